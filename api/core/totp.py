"""The TOTP second factor (RFC 6238: 6 digits, 30 s steps, SHA-1, as authenticator apps use).

Required at sign-in for the roles of ``WANGGE_SECOND_FACTOR_ROLES`` (default: admin, auditor
and the approvers of access requests). A user enrols by getting a secret
(:func:`new_totp_secret`, as an ``otpauth://`` URI for the app's QR scanner) and confirming
it with a first code; only then is it required.

A code is good once: the time step (RFC 6238 counter) of the last code accepted is kept
(``users.totp_last_step``) and :func:`matching_step` accepts only later steps, so a code seen
over a shoulder or in a log cannot be replayed within its window.
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp

__all__ = [
    "ISSUER",
    "matching_step",
    "new_totp_secret",
    "provisioning_uri",
    "totp_code",
    "verify_totp",
]

ISSUER = "wangge"


def new_totp_secret() -> str:
    """A new random secret (160 bits, base32)."""
    return pyotp.random_base32(32)


def provisioning_uri(username: str, secret: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def totp_code(secret: str, at: dt.datetime) -> str:
    """The code of ``secret`` at time ``at`` (for tests and the CLI's check)."""
    return pyotp.TOTP(secret).at(at)


def matching_step(
    secret: str, code: str | None, *, at: dt.datetime, after: int | None = None
) -> int | None:
    """The time step whose code ``code`` is — the step of ``at`` or one either side (clock
    drift) — if later than ``after`` (the last step used); else None."""
    if not code:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            return step
    return None


def verify_totp(secret: str, code: str | None, *, at: dt.datetime) -> bool:
    """True when ``code`` is the code at ``at`` or one step either side (clock drift)."""
    return matching_step(secret, code, at=at) is not None
