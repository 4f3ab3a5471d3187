"""Users and sign-in: create, update and read a user, the token, TOTP enrolment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.db.models import Role
from api.routes.schemas.common import _Answer, _In, _Out

__all__ = ["EnrolTotpAnswer", "Token", "UserCreate", "UserPublic", "UserUpdate"]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds / 有效秒数")


class UserCreate(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    grid_codes: list[str] = Field(default_factory=list)
    staff_id: int | None = None


class UserUpdate(_In):
    password: str | None = Field(None, min_length=8, max_length=256)
    role: Role | None = None
    grid_codes: list[str] | None = None
    active: bool | None = None
    staff_id: int | None = None


class UserPublic(_Out):
    id: int
    username: str
    role: str
    grid_codes: list[str]
    active: bool
    staff_id: int | None


class EnrolTotpAnswer(_Answer):
    """POST answer of ``auth.enrol_totp``."""

    secret: str | None
    uri: str | None
