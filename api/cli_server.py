"""``wangge serve``, ``wangge user create``, ``wangge load division``, ``wangge db copy``.

:func:`register` adds them to the main Typer app. Every command taking ``--db`` creates and
migrates the database when it does not exist yet (:func:`api.db.engine.init_db`).
Exit codes: 0 ok, 1 findings (a division that does not validate), 2 unusable input.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import typer

from api.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    BoundaryCRS,
    BoundaryLayer,
    CodeField,
    CommunityOption,
    DryRunFlag,
    GridsCRS,
    JsonFlag,
    Layer,
    err,
    fail_input,
    out,
    read_division,
    report_dry_run,
)
from gis.errors import WanggeError

if TYPE_CHECKING:
    from api.db.dry_run import WriteReport

__all__ = ["copy_database", "register"]

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="数据库 URL（默认 SpatiaLite 文件）/ database URL"),
]

user_app = typer.Typer(help="用户 / users", no_args_is_help=True, rich_markup_mode=None)
load_app = typer.Typer(
    help="入库 / load data into the database", no_args_is_help=True, rich_markup_mode=None
)
db_app = typer.Typer(help="数据库 / database", no_args_is_help=True, rich_markup_mode=None)


def _open(db: str | None):
    from api.db.engine import open_database, session_factory

    engine = open_database(db)
    return engine, session_factory(engine)


def _where(engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# --------------------------------------------------------------------------- serve


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
    from api.config import get_settings

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


# --------------------------------------------------------------------------- user create


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)


@user_app.command("create")
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
    from api.db.dry_run import write_scope
    from api.errors import ApiError
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


# --------------------------------------------------------------------------- load division


def _print_load(result: dict[str, Any], where: str) -> None:
    kinds = ", ".join(f"{k}={n}" for k, n in result["kinds"].items()) or "无问题 / no findings"
    verdict = "通过 / VALID" if result["valid"] else "不通过 / INVALID"
    out.print(f"校验 / validate: {verdict}; {kinds}")
    if not result["stored"]:
        out.print(
            "未入库：划分未通过校验（--force 可强制）/ NOT stored: the division does not "
            "validate (use --force to store it anyway)"
        )
        return
    c, d = result["community"], result["division"]
    made = "新建 / created" if c["created"] else "已有 / existing"
    out.print(f"社区 / community: {c['name']} ({c['code']}, {made})")
    out.print(
        f"划分 / division: {d['label']} (version {d['version']}), {result['grids']} 个网格 "
        f"/ grids, 生效 / in effect from {d['effective_from']}"
    )
    if result["replaced"] is not None:
        r = result["replaced"]
        out.print(f"替换 / replaces: {r['label']}, 截止 / ends {r['effective_to']}")
    if result["houses"] is not None:
        h = result["houses"]
        out.print(
            f"房屋重新分配 / houses re-assigned: {h['assigned']} 在网格内 / in grids, "
            f"{h['outside']} 网格外 / outside"
        )
    out.print(f"→ {where}")


@load_app.command("division")
def load_division_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[Path, typer.Option("--boundary", "-b", help="社区边界文件 / boundary")],
    community: CommunityOption,
    code_field: CodeField = "code",
    effective_date: Annotated[
        str | None,
        typer.Option(
            "--effective-date",
            help="生效日期 YYYY-MM-DD（默认今天）/ in effect from (default today)",
        ),
    ] = None,
    db: DbOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="未通过校验也入库 / store even if it does not validate")
    ] = False,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, help="容差（米）/ tolerance in metres")
    ] = 0.5,
    layer: Layer = None,
    boundary_layer: BoundaryLayer = None,
    grids_crs: GridsCRS = None,
    boundary_crs: BoundaryCRS = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """校验并入库一个网格划分 / Validate and store a division of a community into grids.

    --community is the community's 12-digit code or its name. A community not stored yet is
    created: named by --community (its code from the boundary's code property or the grid
    codes), or, when --community is a 12-digit code, named by the boundary's name property.
    Each grid's name comes from its name, Name (a KML Placemark's name) or 名称 field.
    """
    from api.db.dry_run import write_scope
    from api.services.divisions import load_division

    try:
        day = dt.date.fromisoformat(effective_date) if effective_date else None
    except ValueError as exc:
        raise fail_input(
            ValueError(f"--effective-date 应为 YYYY-MM-DD / must be YYYY-MM-DD: {effective_date!r}")
        ) from exc
    try:
        grid_frame, boundary_frame = read_division(
            grids, boundary, code_field=code_field, grids_crs=grids_crs,
            boundary_crs=boundary_crs, grids_layer=layer, boundary_layer=boundary_layer,
        )  # fmt: skip
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            with err.status("校验、入库中 / validating and storing…"):
                result = load_division(
                    session,
                    grids=grid_frame,
                    boundary=boundary_frame,
                    community=community,
                    code_field=code_field,
                    effective_date=day,
                    tolerance_m=tolerance,
                    force=force,
                    actor="wangge load division",
                )
            if result["stored"]:
                session.commit()
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    where = scope.url
    if as_json:
        payload = {k: v for k, v in result.items() if k != "findings"}
        payload["findings"] = len(result["findings"]["features"])
        payload |= {"db": where}
        if dry_run:
            payload = report_dry_run(scope.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        _print_load(result, where)
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_OK if result["stored"] else EXIT_FINDINGS)


# --------------------------------------------------------------------------- db copy


class TargetNotEmptyError(WanggeError, ValueError):
    """``db copy`` refuses a target that already holds rows."""


def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch: int = 2000,
    dry_run: bool = False,
    report: WriteReport | None = None,
) -> dict[str, int]:
    """Copy every table of the schema from ``source_url`` to ``target_url``; return row counts.

    The target is created and migrated when missing and must hold no rows, except in the
    code tables the migrations fill (:data:`api.db.migrate.SEEDED_TABLES`), which take the
    source's rows. Tables go in
    dependency order (parents first) in one transaction on the target; geometry is copied as
    EWKB (SRID kept); the append-only audit and change logs are copied too (inserts only).
    On PostgreSQL the id sequences are then set past the largest id. With ``dry_run`` the
    whole copy is done and rolled back (:func:`api.db.dry_run.write_scope`); what it would
    write is added to ``report``.
    """
    from api.db.dry_run import write_scope
    from api.db.migrate import SEEDED_TABLES
    from api.db.models import Base

    source_engine, _ = _open(source_url)
    tables = Base.metadata.sorted_tables
    counts: dict[str, int] = {}
    try:
        with write_scope(target_url, dry_run=dry_run) as scope, scope.begin() as dst:
            _copy_tables(source_engine, dst, tables, SEEDED_TABLES, batch, counts)
    finally:
        source_engine.dispose()
    if report is not None:
        report.merge(scope.report)
    return counts


def _copy_tables(source_engine, dst, tables, seeded, batch: int, counts: dict[str, int]) -> None:
    busy = [
        t.name
        for t in tables
        if t.name not in seeded
        and dst.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
    ]
    if busy:
        raise TargetNotEmptyError(
            f"目标数据库非空 / target database is not empty: {', '.join(busy)} hold rows;"
            " copy into a new, empty database"
        )
    # tables the migrations fill (code tables) take the source's rows instead
    for table in reversed(tables):
        if table.name in seeded:
            dst.execute(sa.delete(table))
    with source_engine.connect() as src:
        for table in tables:
            pk = list(table.primary_key.columns)
            result = src.execution_options(yield_per=batch).execute(sa.select(table).order_by(*pk))
            n = 0
            for chunk in result.partitions(batch):
                dst.execute(sa.insert(table), [dict(row._mapping) for row in chunk])
                n += len(chunk)
            counts[table.name] = n
    if dst.dialect.name == "postgresql":
        for table in tables:
            if "id" in table.c and table.c.id.primary_key:
                dst.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # nosec B608  # table names come from the ORM metadata, not from input
                    f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )


@db_app.command("copy")
def db_copy_command(
    source: Annotated[str, typer.Option("--from", help="源数据库 URL / source database URL")],
    target: Annotated[str, typer.Option("--to", help="目标数据库 URL（须为空）/ target (empty)")],
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """整库复制（如 SpatiaLite → PostGIS）/ Copy a whole database (e.g. SpatiaLite → PostGIS)."""
    from api.db.dry_run import WriteReport

    report = WriteReport()
    try:
        counts = copy_database(source, target, dry_run=dry_run, report=report)
    except (WanggeError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        payload = {"tables": counts, "rows": sum(counts.values())}
        if dry_run:
            payload = report_dry_run(report, payload)
        out.print_json(json.dumps(payload))
    else:
        for name, n in counts.items():
            if n:
                out.print(f"{name}: {n}")
        out.print(
            f"已复制 / copied {sum(counts.values())} 行 / rows in {len(counts)} 张表 / tables"
        )
        if dry_run:
            report_dry_run(report)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``user create``, ``load division`` and ``db copy`` to ``app``."""
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
    app.add_typer(load_app, name="load")
    app.add_typer(db_app, name="db")
