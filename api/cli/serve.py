"""``wangge serve``: start the web API (uvicorn), one process or several."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import (
    DbOption,
)
from api.cli.output import err, fail_input
from gis.errors import WanggeError

__all__ = ["LogLevel", "serve_command"]


class LogLevel(enum.StrEnum):
    """uvicorn's log levels (``info`` logs every request)."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="监听地址 / host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / port")] = 8000,
    log_level: Annotated[
        LogLevel,
        typer.Option("--log-level", help="日志级别（info 记录每个请求）/ log level"),
    ] = LogLevel.info,
    basemap: Annotated[
        Path | None,
        typer.Option(
            "--basemap",
            help="离线底图瓦片包（.pmtiles/.mbtiles），在 /tiles/base 提供 / base map archive"
            " served at /tiles/base (default: WANGGE_BASEMAP)",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="工作进程数（多于 1 个须设置 WANGGE_SECRET_KEY）/ worker processes (more than"
            " one needs WANGGE_SECRET_KEY)",
        ),
    ] = 1,
) -> None:
    """启动 Web API（/docs 为接口文档）/ Start the web API (OpenAPI docs at /docs).

    With ``--workers N`` uvicorn runs N processes on one port. Each process builds the app
    from the settings, so the database URL and base map are handed to them as
    ``WANGGE_DATABASE_URL`` and ``WANGGE_BASEMAP``; the database is created and migrated here
    once, before they start. Tokens must verify in every process, so more than one worker
    without ``WANGGE_SECRET_KEY`` is refused (exit 2).
    """
    import os

    import uvicorn

    from api.app import create_app
    from api.core.config import get_settings

    if workers > 1 and not get_settings().secret_key:
        raise fail_input(
            ValueError(
                "多个工作进程须共用签名密钥：请设置 WANGGE_SECRET_KEY / more than one worker "
                "needs a shared signing key: set WANGGE_SECRET_KEY (otherwise a token signed "
                "by one process is refused by the others)"
            )
        )
    try:
        app = create_app(db, basemap=basemap)
        if workers > 1:
            from api.db.engine import open_database

            open_database(db).dispose()  # migrate once, not once per worker
    except WanggeError as exc:
        raise fail_input(exc) from exc
    err.print(f"wangge API → http://{host}:{port}/docs" + (f" ({workers} workers)" * (workers > 1)))
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level.value)
        return
    if db is not None:
        os.environ["WANGGE_DATABASE_URL"] = db
    if basemap is not None:
        os.environ["WANGGE_BASEMAP"] = str(basemap)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
    )
