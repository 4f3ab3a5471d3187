"""Account security rules: the password policy on every new password, and token revocation.

Setting a password (:func:`change_password`) or deactivating a user (:func:`revoke_tokens`)
raises the user's token generation, so every token issued before stops working.
"""

from __future__ import annotations

import datetime as dt

from api.core.errors import Unprocessable
from api.core.password_policy import password_problems
from api.core.security import hash_password
from api.db.models import User, utc_now

__all__ = ["change_password", "check_password_policy", "revoke_tokens"]


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
