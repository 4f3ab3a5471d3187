"""``wangge user totp NAME``: enrol a user's TOTP second factor from the console.

The console is trusted (it holds the database): the secret is stored, switched on, and
printed with its ``otpauth://`` URI for the user's authenticator app. Exit 2: no such user.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
import typer

from api.cli_common import EXIT_OK, DryRunFlag, JsonFlag, fail_input, out, report_dry_run
from api.crypto import DataKeyError
from gis.errors import InputError, WanggeError

__all__ = ["enrol_totp", "register"]


def enrol_totp(db_url: str | None, username: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Give ``username`` a new TOTP secret, required from now on; return secret and URI.

    With ``dry_run`` the enrolment is rolled back; the result then has ``would_write``.
    """
    from api.db.dry_run import write_scope

    with write_scope(db_url, dry_run=dry_run) as scope:
        result = _enrol(scope.sessions, username)
    return result | ({"would_write": scope.report.as_dict()} if dry_run else {})


def _enrol(sessions, username: str) -> dict[str, Any]:
    from api.db.models import User
    from api.services.privacy import audit
    from api.totp import new_totp_secret, provisioning_uri

    with sessions.begin() as session:
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
    dry_run: DryRunFlag = False,
) -> None:
    """绑定动态验证码（TOTP）/ Enrol a TOTP second factor for a user (prints the secret)."""
    try:
        result = enrol_totp(db, name, dry_run=dry_run)
    except (WanggeError, DataKeyError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result | {"dry_run": True} if dry_run else result))
    else:
        out.print(
            f"已绑定 / enrolled {name}: 密钥 / secret {result['secret']}\n{result['uri']}",
            highlight=False,
        )
        if dry_run:
            from api.db.dry_run import WriteReport

            report_dry_run(WriteReport.from_dict(result["would_write"]))
    raise typer.Exit(EXIT_OK)


def register(user_app: typer.Typer) -> None:
    """Add ``totp`` to the ``wangge user`` commands."""
    user_app.command("totp")(totp_command)
