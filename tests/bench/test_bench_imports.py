"""The benchmarks stand on their own: no module under ``bench/`` imports from ``tests``."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_bench_module_imports_the_tests():
    modules = sorted(BENCH.rglob("*.py"))
    assert len(modules) >= 10  # the walk found the package
    offenders = {
        str(p.relative_to(BENCH)): sorted(n for n in _imported(p) if n.split(".")[0] == "tests")
        for p in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert "bench.pg" in _imported(BENCH / "city.py")  # its cluster comes from bench itself
