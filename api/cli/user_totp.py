"""``wangge user totp NAME``: enrol a user's TOTP second factor from the console.

The console is trusted (it holds the database): the secret is stored, switched on, and
printed with its ``otpauth://`` URI for the user's authenticator app. Exit 2: no such user.
"""

from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli_common import EXIT_OK, JsonFlag, fail_input, out
from api.crypto import DataKeyError
from gis.errors import InputError, WanggeError

__all__ = ["enrol_totp", "register"]


def enrol_totp(db_url: str | None, username: str) -> dict[str, str]:
    """Give ``username`` a new TOTP secret, required from now on; return secret and URI."""
    from api.db.engine import database_session
    from api.db.models import User
    from api.services.privacy import audit
    from api.totp import new_totp_secret, provisioning_uri

    with database_session(db_url, begin=True) as session:
        user = session.scalars(sa.select(User).where(User.username == username)).first()
        if user is None:
            raise InputError(f"用户 {username} 不存在 / no user {username}")
        user.totp_secret, user.totp_enabled = new_totp_secret(), True
        audit(session, user=None, action="totp_enrolled", table_name="users", record_id=user.id,
              detail={"username": username, "by": "console"})  # fmt: skip
        return {"username": username, "secret": user.totp_secret,
                "uri": provisioning_uri(username, user.totp_secret)}  # fmt: skip


def totp_command(
    name: Annotated[str, typer.Argument(help="用户名 / username")],
    db: Annotated[str | None, typer.Option("--db", help="数据库 URL / database URL")] = None,
    as_json: JsonFlag = False,
) -> None:
    """绑定动态验证码（TOTP）/ Enrol a TOTP second factor for a user (prints the secret)."""
    try:
        result = enrol_totp(db, name)
    except (WanggeError, DataKeyError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(
            f"已绑定 / enrolled {name}: 密钥 / secret {result['secret']}\n{result['uri']}",
            highlight=False,
        )
    raise typer.Exit(EXIT_OK)


def register(user_app: typer.Typer) -> None:
    """Add ``totp`` to the ``wangge user`` commands."""
    user_app.command("totp")(totp_command)
