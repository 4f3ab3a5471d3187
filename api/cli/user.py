"""``wangge user create|totp``: accounts from the console (the first admin is made here).

The console is trusted (it holds the database). ``user totp NAME`` enrols a user's TOTP second
factor: the secret is stored, switched on, and printed with its ``otpauth://`` URI for the
user's authenticator app. Exit codes: 0 ok, 2 bad input (no such user, a refused password).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from api.cli.options import DbOption, DryRunFlag, JsonFlag
from api.cli.output import EXIT_OK, fail_input, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app", "totp_command", "user_create_command"]


app = typer.Typer(help="用户 / users", no_args_is_help=True, rich_markup_mode=None)


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
    dry_run: DryRunFlag = False,
) -> None:
    """新建用户（新库的第一个管理员也用它）/ Create a user (also the first admin)."""
    from api.core.errors import ApiError
    from api.db.dry_run import write_scope
    from api.services.crud import create_user
    from api.services.privacy import audit

    codes = [c.strip() for c in (grids or "").replace("，", ",").split(",") if c.strip()]
    password = _read_password(password_stdin)
    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions.begin() as session:
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
                "db": scope.url,
            }
    except ApiError as exc:
        raise fail_input(ValueError(exc.detail)) from exc
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        if dry_run:
            summary = report_dry_run(scope.report, summary)
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        grids_text = ", ".join(summary["grid_codes"]) or "-"
        out.print(
            f"已创建用户 / created user {summary['username']} (id {summary['id']}, role "
            f"{summary['role']}, grids {grids_text}) → {summary['db']}"
        )
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_OK)


# --------------------------------------------------------------------------- user totp


@app.command("totp")
def totp_command(
    name: Annotated[str, typer.Argument(help="用户名 / username")],
    db: DbOption = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """绑定动态验证码（TOTP）/ Enrol a TOTP second factor for a user (prints the secret)."""
    import sqlalchemy as sa

    from api.core.crypto import DataKeyError
    from api.db.dry_run import write_scope
    from api.services.accounts import enrol_totp_by_console

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions.begin() as session:
            result = enrol_totp_by_console(session, username=name)
        if dry_run:
            result |= {"would_write": scope.report.as_dict()}
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
