"""Sign-in limits kept in the database: per account and per client address, answered at once.

Every sign-in attempt is a row of ``login_attempts`` (when, user name, client address,
success), so every server process sees the same counts. An attempt is refused at once —
``429`` with ``Retry-After``, never a delay — when, within ``window_s``:

- the client address has ``address_failures`` failures (any user names), or
- the account has ``account_failures`` failures since its last success, unless the address
  is *trusted* for that account (a success from it within ``trusted_s``): then only that
  address's own failures for the account count. So failures from elsewhere cannot lock a user
  out of the place they normally sign in from.

``Retry-After`` is the time until the oldest counted failure leaves the window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import LoginAttempt

__all__ = ["SignInLimits", "record_attempt", "refusal"]


@dataclass(frozen=True)
class SignInLimits:
    """How many failures lock an account or an address, for how long (seconds)."""

    account_failures: int = 5
    address_failures: int = 20
    window_s: float = 900.0
    trusted_s: float = 30 * 86400.0


def _key(username: str) -> str:
    return username.strip().lower()[:64]


def _failures(session: Session, since: dt.datetime, *where) -> tuple[int, dt.datetime | None]:
    row = session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginAttempt.at)).where(
            LoginAttempt.success.is_(False), LoginAttempt.at > since, *where
        )
    ).one()
    return int(row[0]), row[1]


def _last_success(session: Session, *where) -> dt.datetime | None:
    return session.scalar(
        sa.select(sa.func.max(LoginAttempt.at)).where(LoginAttempt.success.is_(True), *where)
    )


def refusal(
    session: Session, limits: SignInLimits, *, username: str, client: str, now: dt.datetime
) -> tuple[str, int] | None:
    """``(reason, retry_after_s)`` when this attempt must be refused, else None."""
    window_start = now - dt.timedelta(seconds=limits.window_s)
    user = _key(username)

    def retry(oldest: dt.datetime | None) -> int:
        if oldest is None:
            return 1
        left = (oldest - window_start).total_seconds()
        return max(1, math.ceil(left))

    n, oldest = _failures(session, window_start, LoginAttempt.client == client)
    if n >= limits.address_failures:
        return "address", retry(oldest)
    here = LoginAttempt.client == client
    trusted_since = now - dt.timedelta(seconds=limits.trusted_s)
    last_here = _last_success(session, LoginAttempt.username == user, here)
    trusted = last_here is not None and last_here > trusted_since
    # failures since the account's last success (by row order: clocks may tie)
    last_ok_id = session.scalar(
        sa.select(sa.func.max(LoginAttempt.id)).where(
            LoginAttempt.success.is_(True), LoginAttempt.username == user
        )
    )
    scope = [LoginAttempt.username == user, LoginAttempt.id > (last_ok_id or 0)]
    n, oldest = _failures(session, window_start, *scope, *([here] if trusted else []))
    if n >= limits.account_failures:
        return "account", retry(oldest)
    return None


def record_attempt(
    session: Session, *, username: str, client: str, success: bool, now: dt.datetime
) -> None:
    """Add one attempt (flushed with the session's transaction)."""
    session.add(LoginAttempt(at=now, username=_key(username), client=client, success=success))
