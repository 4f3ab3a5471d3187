"""``wangge routing show|export|import|add-post|add-department``: routing rules as data.

The routing table has one row per incident category: ``类别编码`` (category code),
``类别名称`` (name, read only), ``承办岗位`` (handling post, must exist), ``是否公开``
(是/否: may its incidents be published), ``上报部门编码`` (street department escalations go
to; empty = none). ``export`` writes it as CSV or XLSX, ``import`` reads it back (all rows
checked first; exit 2 naming each bad row, nothing written; ``--dry-run`` checks only).
Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.database import open_sessions
from api.cli.options import DbOption, JsonFlag
from api.cli.output import EXIT_OK, fail_service, out
from gis.errors import InputError, WanggeError

__all__ = ["app", "read_routing_file", "write_routing_file"]

app = typer.Typer(
    help="事件路由：岗位、街道部门、类别规则 / incident routing: posts, departments, rules",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def write_routing_file(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write routing rows with Chinese headers as CSV (UTF-8 with BOM) or XLSX."""
    import pandas as pd

    from api.services.incidents.routing import ROUTING_COLUMNS

    frame = pd.DataFrame(rows, columns=list(ROUTING_COLUMNS)).rename(columns=ROUTING_COLUMNS)
    frame["是否公开"] = frame["是否公开"].map({True: "是", False: "否"})
    if path.suffix.lower() == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="路由规则")
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        raise InputError(f"须为 .csv 或 .xlsx / write .csv or .xlsx, not {path.name}")
    return path


def read_routing_file(path: Path) -> list[dict[str, Any]]:
    """Routing rows from a CSV/XLSX with Chinese (or English key) headers; the name column
    is ignored; empty cells of post and department are kept as empty (clearing them)."""
    import pandas as pd

    from api.services.incidents.routing import ROUTING_COLUMNS

    if not path.exists():
        raise InputError(f"文件不存在 / no such file: {path}")
    reader = pd.read_excel if path.suffix.lower() in {".xlsx", ".xls"} else pd.read_csv
    try:
        frame = reader(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise InputError(f"无法读取 / cannot read {path.name}: {exc}") from exc
    by_header = {v: k for k, v in ROUTING_COLUMNS.items()} | {k: k for k in ROUTING_COLUMNS}
    unknown = [c for c in frame.columns if str(c).strip() not in by_header]
    if unknown or ("类别编码" not in frame.columns and "category_code" not in frame.columns):
        raise InputError(
            f"表头应为 {', '.join(ROUTING_COLUMNS.values())}；未知：{unknown} / headers must be "
            f"{', '.join(ROUTING_COLUMNS.values())}; unknown: {unknown}"
        )
    frame = frame.rename(columns=lambda c: by_header[str(c).strip()])
    frame = frame.drop(columns=["category_name"], errors="ignore")
    return [{k: str(v).strip() for k, v in row.items()} for row in frame.to_dict("records")]


@app.command("show")
def show_command(db: DbOption = None, as_json: JsonFlag = False) -> None:
    """显示路由规则、岗位与部门 / Show routing rules, posts and departments."""
    from api.services.incidents.routing import (
        department_dict,
        list_departments,
        list_posts,
        routing_rows,
    )

    engine, sessions = open_sessions(db)
    try:
        with sessions() as session:
            rows = routing_rows(session)
            posts = [p.name for p in list_posts(session)]
            departments = [department_dict(session, d) for d in list_departments(session)]
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps({"rules": rows, "posts": posts, "departments": departments}))
        raise typer.Exit(EXIT_OK)
    out.print(f"岗位 / posts: {'、'.join(posts)}", highlight=False, markup=False)
    for d in departments:
        names = "、".join(m["name"] for m in d["members"]) or "-"
        out.print(f"部门 {d['code']} {d['name']}: {names}", highlight=False, markup=False)
    for r in rows:
        out.print(
            f"{r['category_code']}\t{r['category_name']}\t{r['post'] or '-'}\t"
            f"{'公开' if r['public'] else '不公开'}\t{r['department_code'] or '-'}",
            highlight=False,
            markup=False,
        )


@app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="输出 .csv 或 .xlsx / output file")],
    db: DbOption = None,
) -> None:
    """导出路由规则模板（可编辑后导入）/ Export the routing table (edit, then import)."""
    from api.services.incidents.routing import routing_rows

    engine, sessions = open_sessions(db)
    try:
        with sessions() as session:
            rows = routing_rows(session)
        write_routing_file(rows, path)
    except WanggeError as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    out.print(f"已导出 {len(rows)} 条 / exported {len(rows)} rules: {path}", highlight=False)


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help=".csv 或 .xlsx（routing export 的格式）")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查不写入 / check only")] = False,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """导入路由规则（全部行先检查，有错则不写入）/ Import routing rules (all or nothing)."""
    from api.core.errors import ApiError
    from api.services.incidents.routing import apply_routing_rows

    engine, sessions = open_sessions(db)
    try:
        rows = read_routing_file(path)
        with sessions() as session:
            applied = apply_routing_rows(session, rows)
            if dry_run:
                session.rollback()
            else:
                session.commit()
    except (ApiError, WanggeError) as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps({"applied": applied, "dry_run": dry_run}))
        raise typer.Exit(EXIT_OK)
    verb = "可导入（未写入）/ would apply" if dry_run else "已导入 / applied"
    out.print(f"{verb} {applied} 条 / rules", highlight=False, markup=False)


@app.command("add-post")
def add_post_command(
    name: Annotated[str, typer.Argument(help="岗位名称 / post name")],
    code: Annotated[str | None, typer.Option("--code", help="岗位编码 / code")] = None,
    db: DbOption = None,
) -> None:
    """新增岗位 / Add a post."""
    from api.core.errors import ApiError
    from api.services.incidents.routing import create_post

    engine, sessions = open_sessions(db)
    try:
        with sessions.begin() as session:
            create_post(session, name=name, code=code)
    except (ApiError, WanggeError) as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    out.print(f"已新增岗位 / added post: {name}", highlight=False, markup=False)


@app.command("add-department")
def add_department_command(
    code: Annotated[str, typer.Argument(help="部门编码 / department code")],
    name: Annotated[str, typer.Argument(help="部门名称 / department name")],
    member: Annotated[
        list[int] | None, typer.Option("--member", help="成员工作人员 id（可多次）/ staff id")
    ] = None,
    street: Annotated[str | None, typer.Option("--street", help="街道编码 / street")] = None,
    db: DbOption = None,
) -> None:
    """新增街道部门及成员 / Add a street department with its members."""
    from api.core.errors import ApiError
    from api.services.incidents.routing import create_department, set_members

    engine, sessions = open_sessions(db)
    try:
        with sessions.begin() as session:
            department = create_department(session, code=code, name=name, street_code=street)
            set_members(session, department, member or [])
    except (ApiError, WanggeError) as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    out.print(
        f"已新增部门 / added department: {code} {name} ({len(member or [])} 名成员 / members)",
        highlight=False,
        markup=False,
    )
