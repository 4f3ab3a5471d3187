"""API keys of Open311 clients: create one, find the key a request carries."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict
from api.db.models.incidents import ApiKey
from gis.errors import InputError

__all__ = ["create_api_key", "find_api_key"]


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(session: Session, name: str) -> str:
    """Store a new Open311 API key called ``name`` (its SHA-256 only); return the key."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise InputError("密钥名称须为 1–64 个字符 / a key name has 1-64 characters")
    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"密钥名称 {name!r} 已存在 / a key named {name!r} exists")
    key = secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=_hash_key(key), active=True))
    session.flush()
    return key


def find_api_key(session: Session, key: str | None) -> ApiKey | None:
    """The active key record of ``key``, or None."""
    if not key:
        return None
    found = session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == _hash_key(key)))
    return found if found is not None and found.active else None
