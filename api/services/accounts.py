"""Account security rules: the password policy on every new password, token revocation, and
the console's account work (TOTP enrolment, who acts in a command).

Setting a password (:func:`change_password`) or deactivating a user (:func:`revoke_tokens`)
raises the user's token generation, so every token issued before stops working.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Unprocessable
from api.core.password_policy import password_problems
from api.core.security import hash_password
from api.core.totp import new_totp_secret, provisioning_uri
from api.db.history import set_actor
from api.db.models import User, utc_now
from api.services.privacy import audit
from gis.errors import InputError

__all__ = [
    "act_as",
    "change_password",
    "check_password_policy",
    "enrol_totp_by_console",
    "revoke_tokens",
]


def check_password_policy(password: str, *, username: str) -> None:
    """422 listing what is wrong with ``password`` (see :mod:`api.core.password_policy`)."""
    problems = password_problems(password, username=username)
    if problems:
        raise Unprocessable("密码不符合要求 / password refused: " + "; ".join(problems))


def revoke_tokens(user: User) -> None:
    """Make every token issued to ``user`` so far invalid."""
    user.token_generation = (user.token_generation or 0) + 1


def change_password(user: User, password: str, *, now: dt.datetime | None = None) -> None:
    """Set a new password (policy checked) and revoke the user's earlier tokens."""
    check_password_policy(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = now or utc_now()
    revoke_tokens(user)


def enrol_totp_by_console(session: Session, *, username: str) -> dict[str, Any]:
    """Give ``username`` a new TOTP secret, required from now on (audited as done at the
    console); return the username, the secret and its ``otpauth://`` URI.

    Raises :class:`~gis.errors.InputError` when there is no such user.
    """
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"用户 {username} 不存在 / no user {username}")
    user.totp_secret, user.totp_enabled = new_totp_secret(), True
    audit(session, user=None, action="totp_enrolled", table_name="users", record_id=user.id,
          detail={"username": username, "by": "console"})  # fmt: skip
    return {"username": username, "secret": user.totp_secret,
            "uri": provisioning_uri(username, user.totp_secret)}  # fmt: skip


def act_as(session: Session, username: str) -> None:
    """Record ``username`` as who acts in ``session`` (the change history), with the id of the
    user of that name when there is one (a console user need not have an account)."""
    user_id = session.scalar(sa.select(User.id).where(User.username == username))
    set_actor(session, user_id=user_id, username=username)
