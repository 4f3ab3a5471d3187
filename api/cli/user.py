"""``wangge user create|totp``: accounts from the console (the first admin is made here).

The console is trusted (it holds the database). ``user totp NAME`` enrols a user's TOTP second
factor: the secret is stored, switched on, and printed with its ``otpauth://`` URI for the
user's authenticator app. Exit codes: 0 ok, 2 bad input (no such user, a refused password).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli.database import open_sessions, shown_url
from api.cli.options import DbOption, JsonFlag
from api.cli.output import EXIT_OK, fail_input, out
from api.core.crypto import DataKeyError
from gis.errors import InputError, WanggeError

__all__ = ["app", "enrol_totp", "totp_command", "user_create_command"]


app = typer.Typer(help="用户 / users", no_args_is_help=True, rich_markup_mode=None)


# --------------------------------------------------------------------------- serve


# --------------------------------------------------------------------------- user create


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)


@app.command("create")
def user_create_command(
    name: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="角色 / role: planner|grid_worker|"
            "post_staff|community_head|street_dept|auditor|admin",
        ),
    ],
    grids: Annotated[
        str | None,
        typer.Option(
            "--grids", help="负责的网格编码，逗号分隔 / grid codes served, comma-separated"
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="从标准输入读一行作为密码 / read the password from stdin"
        ),
    ] = False,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """新建用户（新库的第一个管理员也用它）/ Create a user (also the first admin)."""
    from api.core.errors import ApiError
    from api.services.crud import create_user
    from api.services.privacy import audit

    codes = [c.strip() for c in (grids or "").replace("，", ",").split(",") if c.strip()]
    password = _read_password(password_stdin)
    try:
        engine, sessions = open_sessions(db)
        try:
            with sessions.begin() as session:
                user = create_user(
                    session, username=name, password=password, role=role, grid_codes=codes
                )
                audit(
                    session,
                    user=None,
                    action="user_create",
                    table_name="users",
                    record_id=user.id,
                    detail={"username": user.username, "role": user.role, "via": "cli"},
                )
                summary = {
                    "id": user.id,
                    "username": user.username,
                    "role": user.role,
                    "grid_codes": list(user.grid_codes),
                    "db": shown_url(engine),
                }
        finally:
            engine.dispose()
    except ApiError as exc:
        raise fail_input(ValueError(exc.detail)) from exc
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        grids_text = ", ".join(summary["grid_codes"]) or "-"
        out.print(
            f"已创建用户 / created user {summary['username']} (id {summary['id']}, role "
            f"{summary['role']}, grids {grids_text}) → {summary['db']}"
        )
    raise typer.Exit(EXIT_OK)


# --------------------------------------------------------------------------- load division


# --------------------------------------------------------------------------- db copy


# --------------------------------------------------------------------------- user totp


def enrol_totp(db_url: str | None, username: str) -> dict[str, str]:
    """Give ``username`` a new TOTP secret, required from now on; return secret and URI."""
    from api.core.totp import new_totp_secret, provisioning_uri
    from api.db.engine import database_session
    from api.db.models import User
    from api.services.privacy import audit

    with database_session(db_url, begin=True) as session:
        user = session.scalars(sa.select(User).where(User.username == username)).first()
        if user is None:
            raise InputError(f"用户 {username} 不存在 / no user {username}")
        user.totp_secret, user.totp_enabled = new_totp_secret(), True
        audit(session, user=None, action="totp_enrolled", table_name="users", record_id=user.id,
              detail={"username": username, "by": "console"})  # fmt: skip
        return {"username": username, "secret": user.totp_secret,
                "uri": provisioning_uri(username, user.totp_secret)}  # fmt: skip


@app.command("totp")
def totp_command(
    name: Annotated[str, typer.Argument(help="用户名 / username")],
    db: DbOption = None,
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
