"""The ``wangge`` command line: thin Typer wrappers around gis/ functions and api/ services.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.

One module per command group, named after the command (``wangge incidents ...`` is
:mod:`api.cli.incidents`), each with its Typer ``app``; a module of top-level commands
(``validate``, ``assign``, ``serve``, ``demo``...) holds their functions. This module is the
root app and registers them one way: :data:`COMMAND_TABLE` (name -> module, function, help
line) and :data:`GROUP_TABLE` (name -> help line; the module has the group's name), with
:data:`COMMANDS` (name -> function) and :data:`GROUPS` (name -> module) importing them on
look-up. The root is a lazy group: ``wangge --help`` lists the tables, and a run imports and
builds only the command it invokes, so its start-up does not pay for the other commands'
modules and options (tests/api/test_cli_layout.py checks the tables against the commands).
Shared pieces:
:mod:`~api.cli.options` (every shared option), :mod:`~api.cli.output` (consoles, exit
codes), :mod:`~api.cli.inputs` (reading input files), :mod:`~api.cli.database` (``--db``).

CRS of inputs, one rule for every command: each file is read in its own declared CRS
(GeoJSON, KML, CSV and XLSX are WGS84 unless told); ``--input-crs wgs84|cgcs2000|gcj02|bd09``
names the CRS of the command's point/address input only; grids, boundaries, roads and
buildings have their own ``--grids-crs``, ``--boundary-crs``, ``--roads-crs``,
``--buildings-crs``. ``--layer`` (and ``--grids-layer``, ``--boundary-layer``...) picks
the layer of a file that holds several.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Annotated, Any

import click
import typer
from typer.main import get_command_from_info, get_group_from_info
from typer.models import TyperInfo

from api.cli.output import WanggeGroup, out

__all__ = ["COMMANDS", "COMMAND_TABLE", "GROUPS", "GROUP_TABLE", "app"]

# Every top-level command, by its name: the module (in api.cli) and function that run it and
# the first paragraph of its help, which ``wangge --help`` lists without importing the module.
# tests/api/test_cli_layout.py checks each line against the command itself.
COMMAND_TABLE: dict[str, tuple[str, str, str]] = {
    "validate": ("validate", "validate_command",
                 "校验网格划分：无缝隙、无重叠（纵向到底、横向到边）/ Validate a grid division."),
    "assign": ("assign", "assign_command",
               "把点落到网格（空间连接）/ Assign points to grids by spatial join."),
    "repair": ("repair", "repair_command",
               "修复网格划分：对齐、裁剪、补缝、去重叠、重新编码 / Repair a grid division."),
    "divide": ("divide", "divide_command",
               "自动划分网格，按户数均衡、沿道路、不切分建筑 / Divide a community into balanced "
               "grids."),
    "balance": ("divide", "balance_command",
                "网格均衡报告：户数、人口、面积、紧凑度、人员 / Balance report of a division."),
    "deadline": ("deadline", "deadline_command",
                 "计算事件办结期限（法定工作日历）/ When an incident is due (official working "
                 "calendar)."),
    "geocode": ("geocode", "geocode_command",
                "批量地理编码：地址 → 坐标、匹配级别、网格 / Geocode an address table offline."),
    "geocode-eval": ("geocode", "geocode_eval_command",
                     "地理编码精度评估：各级别的精确率与召回率 / Precision and recall on a "
                     "labelled set."),
    "map": ("map", "map_command",
            "生成网页地图（离线可用）/ Write a self-contained web map of a community."),
    "print": ("map", "print_command",
              "打印网格示意图或网格公示牌（PDF/PNG）/ Print the division diagram or notice "
              "boards."),
    "serve": ("serve", "serve_command",
              "启动 Web API（/docs 为接口文档）/ Start the web API (OpenAPI docs at /docs)."),
    "template": ("registry", "template_command",
                 "写出空白导入模板（中文表头、说明、下拉选项）/ Write the blank import template."),
    "import": ("registry", "import_command",
               "批量导入房屋、人口、人员（一个事务）/ Bulk import houses, residents or staff."),
    "export": ("registry", "export_command",
               "导出图层与台账 / Export a layer or ledger (XLSX, CSV; GPKG, SHP, GeoJSON for "
               "grids, houses, incidents)."),
    "appraise": ("appraise", "appraise_command",
                 "月度绩效（每名工作人员）/ Monthly appraisal of every worker of a community."),
    "backup": ("backup", "backup_command",
               "备份整个数据库（使用中亦安全）/ Back up the whole database (safe while in use)."),
    "restore": ("backup", "restore_command",
                "恢复备份到一个空数据库 / Restore a backup into an empty database."),
    "demo": ("demo", "demo_command",
             "载入示例社区：入库、校验、连接、出图 / Load, validate, join and map the demo "
             "community."),
}  # fmt: skip

# Every command group, by its name (its module in api.cli has the same name and holds the
# group's Typer ``app``): the first paragraph of the group's help.
GROUP_TABLE: dict[str, str] = {
    "gazetteer": "门牌库 / door-plate gazetteer",
    "patrol": "巡查轨迹 / patrol logs",
    "user": "用户 / users",
    "load": "入库 / load data into the database",
    "db": "数据库 / database",
    "assess": "月度考核 / monthly assessment",
    "incidents": "事件 / incidents: inbox, statistics, daily summary",
    "open311": "Open311 GeoReport v2",
    "routing": "事件路由：岗位、街道部门、类别规则 / incident routing: posts, departments, rules",
    "basemap": "离线底图 / offline base map",
    "keys": "数据密钥（加密居民身份证号码、电话）/ The data key encrypting residents' personal "
    "data",
    "audit": "审计日志 / audit log",
}


def _module(name: str):
    return importlib.import_module(f"api.cli.{name}")


class _Imported(Mapping[str, Any]):
    """A read-only mapping whose values are imported when first looked up."""

    def __init__(self, names: list[str], load: Callable[[str], Any]) -> None:
        self._names = names
        self._load = load

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return self._load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# Every top-level command, by its name: the function that runs it (imported when looked up).
COMMANDS: Mapping[str, Callable[..., Any]] = _Imported(
    list(COMMAND_TABLE),
    lambda name: getattr(_module(COMMAND_TABLE[name][0]), COMMAND_TABLE[name][1]),
)
# Every command group, by its name: the module whose ``app`` holds its subcommands.
GROUPS: Mapping[str, Any] = _Imported(list(GROUP_TABLE), _module)


class _LazyCommands(MutableMapping[str, click.Command]):
    """The root's subcommands by name: every name known from the tables, each command built
    (its module imported, its Typer function turned into a click command) when first looked
    up, exactly as registering it on the root app would have built it."""

    def __init__(self, build: Callable[[str], click.Command], built: Mapping) -> None:
        self._build = build
        self._built: dict[str, click.Command] = dict(built)
        self._names = [*COMMAND_TABLE, *GROUP_TABLE]
        self._names += [n for n in self._built if n not in self._names]

    def is_built(self, name: str) -> bool:
        return name in self._built

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


def _build(name: str) -> click.Command:
    """The click command of ``name``, built as ``app.command``/``app.add_typer`` would."""
    if name in GROUP_TABLE:
        return get_group_from_info(
            TyperInfo(GROUPS[name].app, name=name),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    single = typer.Typer()
    single.command(name)(COMMANDS[name])
    return get_command_from_info(
        single.registered_commands[0],
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


def _summary(name: str) -> str:
    return COMMAND_TABLE[name][2] if name in COMMAND_TABLE else GROUP_TABLE[name]


class LazyGroup(WanggeGroup):
    """The root group: lists every command from the tables and imports only the one invoked
    (click's lazy-loading group), so ``wangge assign`` does not import the web server, the
    database layer or the map renderer that other commands need."""

    def __init__(self, *args, commands=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(_build, commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not yet built is listed by its table line (its help's
        first paragraph is all the listing shows), so ``wangge --help`` builds none."""
        rows = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        for name in names:
            if self.commands.is_built(name):
                command = self.commands[name]
                if command.hidden:
                    continue
            else:
                command = click.Command(name, help=_summary(name))
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="wangge",
    cls=LazyGroup,
    help="网格化管理 GIS 系统 / GIS for community grid management.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version as package_version

        out.print(f"wangge {package_version('wangge')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="版本 / version"),
    ] = False,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=1,
            help="本地文件最多行数（默认不限）/ most rows in a local input file (default: no "
            "bound; WANGGE_MAX_LOCAL_ROWS)",
        ),
    ] = None,
) -> None:
    """网格化管理 GIS 系统 / GIS for community grid management."""
    from api.core.local_limits import defer_cli_limits  # not api.core.limits: web stack

    # in force until the command ends (its context closes), not beyond: an in-process caller
    # (a test's CliRunner, a script) keeps the bounds it had
    ctx.with_resource(defer_cli_limits(max_rows=max_rows))
