"""The CLI package's layout: one module per command group named after it, every command
registered one way from the root (``COMMANDS``, ``GROUPS``), the shared options shared."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

import api.cli
from api.cli import COMMANDS, GROUPS, app

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
SHARED = {"options", "output", "inputs", "database"}  # what the command modules share


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
