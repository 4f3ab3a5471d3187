"""Passwords (argon2id) and access tokens (JWT, HS256, with expiry, id and generation).

Each token carries a random id (``jti``, revoked by signing out) and the user's token
generation (``gen``; raising it revokes every token issued before). Sign-in limits live in
:mod:`api.routes.throttle`, the password policy in :mod:`api.core.password_policy`, TOTP in
:mod:`api.core.totp`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.core.errors import Unauthorized

__all__ = [
    "ENROL_SCOPE",
    "ENROL_TTL",
    "JWT_ALGORITHM",
    "TokenError",
    "create_access_token",
    "decode_access_token",
    "hash_password",
    "new_secret_key",
    "set_password_hasher",
    "verify_password",
]

JWT_ALGORITHM = "HS256"
ENROL_SCOPE = "totp_enrol"  # a token good only for POST /auth/totp/enrol and /confirm
ENROL_TTL = dt.timedelta(minutes=10)
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (argon2-cffi defaults)
_dummy_hash: str | None = None


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Use ``hasher`` for new hashes (tests use cheap parameters; hashes keep their own)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    # A hash to verify against when the user does not exist, so that the answer takes as long.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("wangge-no-such-user")
    return _dummy_hash


class TokenError(Unauthorized, ValueError):
    """A token that is malformed, wrongly signed or expired; the message says which."""


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (salted; ``$argon2id$...``)."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Return True when ``password`` matches ``password_hash`` (None: burn the same time, False)."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_secret_key() -> str:
    """A random 256-bit signing key (URL-safe text)."""
    return secrets.token_urlsafe(32)


def create_access_token(
    *,
    subject: str,
    role: str,
    secret: str,
    expires_in: dt.timedelta,
    now: dt.datetime,
    generation: int = 0,
    scope: str | None = None,
) -> str:
    """Return a signed JWT for ``subject`` (username) carrying its role, valid ``expires_in``,
    with a random id (``jti``) and the user's token ``generation`` (``gen``).

    ``scope`` restricts the token to a few endpoints (``totp_enrol``: only TOTP enrolment,
    :data:`ENROL_SCOPE`); a token without one is a full sign-in.
    """
    claims = {
        "sub": subject,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + expires_in).timestamp()),
        "jti": secrets.token_urlsafe(16),
        "gen": generation,
        **({"scope": scope} if scope else {}),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, *, secret: str, now: dt.datetime) -> dict[str, Any]:
    """Return the claims of ``token``, or raise :class:`TokenError` (bad, or expired at ``now``).

    Expiry is checked against ``now`` (the application's clock), not the wall clock.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "exp"],
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"令牌无效 / invalid token ({exc})") from exc
    if now.timestamp() >= float(claims["exp"]):
        raise TokenError("令牌已过期，请重新登录 / token expired: sign in again")
    return claims
