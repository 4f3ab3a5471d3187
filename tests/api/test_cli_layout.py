"""The CLI package's layout: one module per command group named after it, every command
registered one way from the root (``COMMANDS``, ``GROUPS``), the shared options shared."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import typer
from typer.main import get_command
from typer.testing import CliRunner

import api.cli
from api.cli import COMMAND_TABLE, COMMANDS, GROUP_TABLE, GROUPS, app
from api.cli.output import WanggeGroup

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
SHARED = {"options", "output", "inputs", "database", "engine"}  # what the command modules share


def test_every_cli_module_is_registered_from_the_root():
    modules = {m.name for m in pkgutil.iter_modules(api.cli.__path__)} - SHARED
    grouped = {module.__name__.rsplit(".", 1)[1] for module in GROUPS.values()}
    commanding = {function.__module__.rsplit(".", 1)[1] for function in COMMANDS.values()}
    assert modules == grouped | commanding
    # a group's module is named after the group and holds its Typer app
    for name, module in GROUPS.items():
        assert module.__name__ == f"api.cli.{name}"
        assert importlib.import_module(f"api.cli.{name}").app is module.app


def test_the_root_lists_exactly_the_registered_names():
    root = get_command(app)
    assert list(root.commands) == [*COMMANDS, *GROUPS]


def test_tolerance_m_and_its_alias_tolerance_are_one_option():
    runner = CliRunner()
    args = ["validate", str(DEMO / "grids.geojson"), "--boundary", str(DEMO / "boundary.geojson")]
    by_unit = runner.invoke(app, [*args, "--tolerance-m", "0.3", "--json"])
    by_alias = runner.invoke(app, [*args, "--tolerance", "0.3", "--json"])
    assert by_unit.exit_code == by_alias.exit_code == 0, by_unit.output
    assert json.loads(by_unit.stdout) == json.loads(by_alias.stdout)
    # one option: the same bound refuses a negative tolerance under either name (exit 2)
    for flag in ("--tolerance-m", "--tolerance"):
        refused = runner.invoke(app, [*args, flag, "-1"])
        assert refused.exit_code == 2 and "--tolerance-m" in refused.output
    for name in ("validate", "repair"):
        (option,) = [p for p in get_command(app).commands[name].params if p.name == "tolerance"]
        assert option.opts == ["--tolerance-m", "--tolerance"]


def _eager_root() -> typer.Typer:
    """The root as it was registered before it loaded commands lazily: every command and group
    added to one Typer app up front (the reference the lazy root must match)."""
    eager = typer.Typer(
        name="wangge", cls=WanggeGroup, help=app.info.help, no_args_is_help=True,
        add_completion=False, rich_markup_mode=None,
    )  # fmt: skip
    eager.registered_callback = app.registered_callback
    for name, function in COMMANDS.items():
        eager.command(name)(function)
    for name, module in GROUPS.items():
        eager.add_typer(module.app, name=name)
    return eager


def test_the_root_tables_match_the_commands():
    """The root lists commands from COMMAND_TABLE and GROUP_TABLE without importing them: each
    table line is the first paragraph of the real command's help, and nothing hides it."""
    root = get_command(app)
    assert list(COMMAND_TABLE) == list(COMMANDS) and list(GROUP_TABLE) == list(GROUPS)
    summaries = {name: line[2] for name, line in COMMAND_TABLE.items()} | GROUP_TABLE
    for name, summary in summaries.items():
        command = root.commands[name]
        first = (command.help or "").split("\n\n")[0]
        assert " ".join(first.split()) == " ".join(summary.split()), name
        assert command.short_help is None and not command.hidden and not command.deprecated


def test_the_lazy_root_prints_what_the_eager_root_printed():
    """Every help text, at several widths, and the misspelt-command hint are those of the
    root with every command registered up front."""
    runner = CliRunner()
    eager = _eager_root()
    cases = [["--help"], [], ["asign"], ["nonsense"]]
    cases += [[name, "--help"] for name in [*COMMANDS, *GROUPS]]
    cases += [
        [name, sub, "--help"]
        for name in GROUPS
        for sub in get_command(eager).commands[name].commands
    ]
    for width in (60, 80, 200):
        for args in cases:
            lazy_result = runner.invoke(app, args, terminal_width=width)
            eager_result = runner.invoke(eager, args, terminal_width=width)
            assert lazy_result.exit_code == eager_result.exit_code, args
            assert lazy_result.output == eager_result.output, args
