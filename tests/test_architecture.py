"""The import rules of the repository: rooms import downwards only, and nothing in a cycle.

The contracts are in ``pyproject.toml`` (``[tool.importlinter]``): the layers of ``api``
(app and CLI > routes > services > db > core) above ``maps`` above ``gis``; ``gis`` imports
neither ``maps`` nor ``api``; ``maps`` not ``api``; ``bench`` not ``tests``; the model modules
and the CLI command modules not each other. Cycles are found on the import graph itself
(grimp, the graph import-linter builds): every import, also those inside functions, counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import networkx as nx
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("api", "maps", "gis", "bench", cache_dir=None)


def _directed(graph: grimp.ImportGraph, prefix: str) -> nx.DiGraph:
    g = nx.DiGraph()
    for module in graph.modules:
        if module == prefix or module.startswith(prefix + "."):
            g.add_node(module)
            for imported in graph.find_modules_directly_imported_by(module):
                if imported == prefix or imported.startswith(prefix + "."):
                    g.add_edge(module, imported)
    return g


def test_import_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert status == 0, report
    assert "0 broken" in report and "KEPT" in report


@pytest.mark.parametrize("package", ["api", "maps", "gis", "bench"])
def test_no_import_cycles(graph, package):
    g = _directed(graph, package)
    assert g.number_of_nodes() > 3  # the graph was built from the real package
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert cycles == [], f"modules importing each other in a cycle: {cycles}"


def test_the_cycle_check_sees_a_planted_cycle():
    """The check above would fail on a cycle: two modules importing each other are found."""
    g = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        g.add_module(name)
    g.add_import(importer="pkg.a", imported="pkg.b")
    g.add_import(importer="pkg.b", imported="pkg.a")
    g.add_import(importer="pkg.c", imported="pkg.a")
    found = [sorted(c) for c in nx.strongly_connected_components(_directed(g, "pkg")) if len(c) > 1]
    assert found == [["pkg.a", "pkg.b"]]


def test_data_scripts_do_not_import_tests():
    """``data/`` holds scripts, not a package: their imports are read from the source."""
    scripts = sorted((ROOT / "data").glob("*.py"))
    assert scripts
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), script


def test_the_contracts_catch_a_planted_upward_import(tmp_path, monkeypatch, capsys):
    """A lower room importing a higher one breaks a layers contract of the same form."""
    package = tmp_path / "planted_rooms"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "high.py").write_text("import planted_rooms.low\n")
    (package / "low.py").write_text("from planted_rooms import high  # upward\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["planted_rooms"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "rooms"\ntype = "layers"\n'
        'layers = ["planted_rooms.high", "planted_rooms.low"]\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    status = lint_imports(config_filename=str(config), no_cache=True)
    report = capsys.readouterr().out
    assert status != 0 and "BROKEN" in report
    assert "planted_rooms.low -> planted_rooms.high" in report
