"""The TOTP second factor (RFC 6238: 6 digits, 30 s steps, SHA-1, as authenticator apps use).

Required at sign-in for the roles of ``WANGGE_SECOND_FACTOR_ROLES`` (default: admin, auditor
and the approvers of access requests). A user enrols by getting a secret
(:func:`new_totp_secret`, as an ``otpauth://`` URI for the app's QR scanner) and confirming
it with a first code; only then is it required.
"""

from __future__ import annotations

import datetime as dt

import pyotp

__all__ = ["ISSUER", "new_totp_secret", "provisioning_uri", "totp_code", "verify_totp"]

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


def verify_totp(secret: str, code: str | None, *, at: dt.datetime) -> bool:
    """True when ``code`` is the code at ``at`` or one step either side (clock drift)."""
    if not code:
        return False
    return bool(pyotp.TOTP(secret).verify(code.strip(), for_time=at, valid_window=1))
