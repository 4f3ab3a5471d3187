"""The ``wangge`` command line: thin Typer wrappers around gis/ functions and api/ services.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.

One module per command group, named after the command (``wangge incidents ...`` is
:mod:`api.cli.incidents`), each with its Typer ``app``; a module of top-level commands
(``validate``, ``assign``, ``serve``, ``demo``...) holds their functions. This module is the
root app and registers them one way: :data:`COMMANDS` (name -> function) and
:data:`GROUPS` (name -> module whose ``app`` holds the group). Shared pieces:
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

from collections.abc import Callable
from importlib.metadata import version as package_version
from typing import Annotated, Any

import typer

from api.cli import (
    appraise,
    assess,
    assign,
    audit,
    backup,
    basemap,
    db,
    deadline,
    demo,
    divide,
    gazetteer,
    geocode,
    incidents,
    keys,
    load,
    map,
    open311,
    patrol,
    registry,
    repair,
    routing,
    serve,
    user,
    validate,
)
from api.cli.output import WanggeGroup, out

__all__ = ["COMMANDS", "GROUPS", "app"]

app = typer.Typer(
    name="wangge",
    cls=WanggeGroup,
    help="网格化管理 GIS 系统 / GIS for community grid management.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"wangge {package_version('wangge')}")
        raise typer.Exit()


@app.callback()
def main(
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
    from api.core.local_limits import apply_cli_limits  # not api.core.limits: web stack

    apply_cli_limits(max_rows=max_rows)


# Every top-level command, by its name: the function that runs it.
COMMANDS: dict[str, Callable[..., Any]] = {
    "validate": validate.validate_command,
    "assign": assign.assign_command,
    "repair": repair.repair_command,
    "divide": divide.divide_command,
    "balance": divide.balance_command,
    "deadline": deadline.deadline_command,
    "geocode": geocode.geocode_command,
    "geocode-eval": geocode.geocode_eval_command,
    "map": map.map_command,
    "print": map.print_command,
    "serve": serve.serve_command,
    "template": registry.template_command,
    "import": registry.import_command,
    "export": registry.export_command,
    "appraise": appraise.appraise_command,
    "backup": backup.backup_command,
    "restore": backup.restore_command,
    "demo": demo.demo_command,
}

# Every command group, by its name: the module whose ``app`` holds its subcommands.
GROUPS: dict[str, Any] = {
    "gazetteer": gazetteer,
    "patrol": patrol,
    "user": user,
    "load": load,
    "db": db,
    "assess": assess,
    "incidents": incidents,
    "open311": open311,
    "routing": routing,
    "basemap": basemap,
    "keys": keys,
    "audit": audit,
}

for _name, _command in COMMANDS.items():
    app.command(_name)(_command)
for _name, _module in GROUPS.items():
    app.add_typer(_module.app, name=_name)
