"""Passwords (argon2id), access tokens (JWT, HS256, with expiry) and sign-in throttling.

:class:`LoginThrottle` slows repeated failed sign-ins per username: after ``free_failures``
failures in a row each further attempt waits ``base_delay_s * 2**(n - free_failures - 1)``
seconds (capped at ``max_delay_s``) before the password is even checked; a success clears the
count, and failures older than ``window_s`` are forgotten. Its clock and sleep are injected,
so tests check the delays without waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "JWT_ALGORITHM",
    "LoginThrottle",
    "TokenError",
    "create_access_token",
    "decode_access_token",
    "hash_password",
    "new_secret_key",
    "set_password_hasher",
    "verify_password",
]

JWT_ALGORITHM = "HS256"
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


class TokenError(ValueError):
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
) -> str:
    """Return a signed JWT for ``subject`` (username) carrying its role, valid ``expires_in``."""
    claims = {
        "sub": subject,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + expires_in).timestamp()),
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


@dataclass
class LoginThrottle:
    """Per-username backoff after failed sign-ins (see the module docstring).

    ``applied`` lists every (username, delay_s) actually waited, for tests and monitoring.
    """

    free_failures: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    window_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    applied: list[tuple[str, float]] = field(default_factory=list)
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _key(self, username: str) -> str:
        return username.strip().lower()

    def failures(self, username: str) -> int:
        """Failures in a row for ``username`` (0 after the window has passed)."""
        with self._lock:
            count, last = self._failures.get(self._key(username), (0, 0.0))
        return 0 if self.clock() - last > self.window_s else count

    def delay_for(self, username: str) -> float:
        """Seconds the next attempt for ``username`` must wait.

        >>> t = LoginThrottle(free_failures=2, base_delay_s=1.0, max_delay_s=5.0, clock=lambda: 0)
        >>> for _ in range(6):
        ...     t.record_failure("a")
        >>> t.delay_for("a"), t.delay_for("b")
        (5.0, 0.0)
        """
        n = self.failures(username) - self.free_failures
        return 0.0 if n <= 0 else min(self.max_delay_s, self.base_delay_s * 2 ** (n - 1))

    def record_failure(self, username: str) -> None:
        count = self.failures(username)
        with self._lock:
            self._failures[self._key(username)] = (count + 1, self.clock())

    def record_success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._key(username), None)

    async def wait(self, username: str) -> float:
        """Wait the delay due for ``username`` (via the injected sleep); return it."""
        delay = self.delay_for(username)
        if delay > 0:
            self.applied.append((username, delay))
            await self.sleep(delay)
        return delay
