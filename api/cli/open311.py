"""``wangge open311 key create``: Open311 GeoReport v2 API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.options import DbOption, DryRunFlag
from api.cli.output import fail_service, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app", "key_create_command"]

app = typer.Typer(help="Open311 GeoReport v2", no_args_is_help=True, rich_markup_mode=None)


key_app = typer.Typer(help="API 密钥 / API keys", no_args_is_help=True, rich_markup_mode=None)


app.add_typer(key_app, name="key")


@key_app.command("create")
def key_create_command(
    name: Annotated[str, typer.Argument(help="密钥名称 / key name")],
    db: DbOption = None,
    dry_run: DryRunFlag = False,
) -> None:
    """新建 Open311 API 密钥（最后一行即密钥，只显示一次）/ Create an API key (last line)."""
    from api.core.errors import ApiError
    from api.db.dry_run import write_scope
    from api.services.incidents.api_keys import create_api_key

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions.begin() as session:
            key = create_api_key(session, name)
    except (ApiError, WanggeError) as exc:
        raise fail_service(exc) from exc
    if dry_run:  # the key was rolled back: printing it would only mislead
        report_dry_run(scope.report)
        return
    out.print(
        f"已创建 API 密钥 {name}（只显示这一次）/ created API key {name} (shown only once):",
        highlight=False,
        markup=False,
    )
    print(key)
