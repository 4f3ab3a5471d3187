"""``wangge demo``: load, validate, join and map the demo community."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from api.cli.options import (
    DbOption,
    JsonFlag,
)
from api.cli.output import EXIT_OK, err, fail_input, fmt_number, out
from gis.errors import WanggeError

__all__ = ["demo_command"]


def demo_command(
    db: DbOption = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir", help="地图与打印件目录 / folder for maps and printouts (default out/demo)"
        ),
    ] = Path("out/demo"),
    no_maps: Annotated[
        bool, typer.Option("--no-maps", help="不生成地图与打印件 / skip maps and printouts")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """载入示例社区：入库、校验、连接、出图 / Load, validate, join and map the demo community."""
    from api.services.demo import DEMO_STEPS, load_demo

    key_note = _demo_data_key(db)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        console=err,
        disable=as_json,
    )
    try:
        with progress:
            total = DEMO_STEPS + (0 if no_maps else 1)
            task = progress.add_task("示例社区 / demo community", total=total)

            def step(message: str) -> None:
                if not as_json:
                    progress.console.print(message)
                progress.advance(task)

            summary = load_demo(db_url=db, on_step=step, out_dir=None if no_maps else out_dir)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if key_note is not None:
        summary["data_key_file"] = str(key_note)
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        _print_demo_summary(summary)
        if key_note is not None:
            out.print(
                f"示例数据密钥已写入 / demo data key written to {key_note} (0600)；"
                f"启动服务前请设置 / before serving set WANGGE_DATA_KEY_FILE={key_note}",
                highlight=False,
            )
    raise typer.Exit(EXIT_OK)


def _demo_data_key(db: str | None) -> Path | None:
    """The demo's data key: the configured one, else a new key file made for the demo.

    Residents are refused without a data key; the demo makes one explicitly (beside the
    SpatiaLite file, or ./wangge-data.key for PostGIS), used by this process and named in the
    output, instead of storing personal data in clear. Returns the file made, or None.
    """
    from api.core.config import get_settings
    from api.core.crypto import (
        Keyring,
        MissingDataKeyError,
        keyring,
        new_data_key,
        parse_data_key,
        set_keyring,
        write_key_file,
    )

    try:
        keyring()
        return None
    except MissingDataKeyError:
        pass
    url = db or get_settings().database_url
    folder = Path(url.split("///", 1)[1]).parent if url.startswith("sqlite:///") else Path()
    path = folder / "wangge-data.key"
    if path.exists():
        text = path.read_text(encoding="ascii")
    else:
        text = new_data_key()
        folder.mkdir(parents=True, exist_ok=True)
        write_key_file(path, text)
    set_keyring(Keyring(parse_data_key(text, source=str(path))))
    return path


def _print_demo_summary(summary: dict[str, Any]) -> None:
    """The demo's summary: community, grids, validation, joins, and the files written."""
    c = summary["community"]
    out.print(f"[bold]{c['name']}[/] ({c['code']}) {c['area_m2'] / 1e6:.2f} km² → {summary['db']}")
    table = Table(title="网格 / grids (current)")
    table.add_column("编码 code", no_wrap=True)
    for header in ("名称 name", "面积 m²", "户数 households", "房屋 houses", "事件 incidents"):
        table.add_column(header)
    for g in summary["grids"]:
        table.add_row(
            g["code"],
            g["name"],
            fmt_number(g["area_m2"], 0),
            str(g["households"]),
            str(g["houses"]),
            str(g["incidents"]),
        )
    out.print(table)
    for name, v in summary["validation"].items():
        verdict = "通过 / VALID" if v["valid"] else "不通过 / INVALID"
        kinds = ", ".join(f"{k}={n}" for k, n in v["kinds"].items()) or "无问题 / no findings"
        out.print(f"校验 / validate ({name}): {verdict}; {kinds}")
    for what in ("houses", "incidents"):
        s = summary[what]
        out.print(
            f"{what}: {s['total']} 条, 网格外 / outside {s['outside']},"
            f" 数据库一致 / database agrees {s['db_agrees']}/{s['total']}"
        )
    flow = summary["incidents"].get("workflow")
    if flow:
        states = ", ".join(f"{k}={v}" for k, v in sorted(flow["states"].items()))
        out.print(
            f"事件流转 / workflow: {states}; 按期 / on time {flow['on_time']},"
            f" 超期 / late {flow['late']}"
        )
    names = {
        "division_map": "网格划分图 / division map",
        "validation_map": "校验图 / validation map",
        "incident_heatmap": "事件热力图 / incident heat-map",
        "incident_hotspots": "事件热点 / incident hot-spots",
        "division_diagram": "网格示意图（打印）/ division diagram (print)",
        "boards": "网格公示牌（打印）/ notice boards (print)",
    }
    for key, path in summary.get("outputs", {}).items():
        out.print(f"{names.get(key, key)}: {path}", highlight=False)
