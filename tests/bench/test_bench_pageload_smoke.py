"""A tiny run of ``python -m bench.pageload --smoke``: both servers load the public page in
Chromium, the one with a base map fetches tiles, the other none. No timing asserts: the
machine is shared."""

from __future__ import annotations

import pytest

from tests.bench.smoke import run_smoke

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium


def test_page_load_bench_runs_with_and_without_the_base_map(tmp_path):
    text = run_smoke("bench.pageload", tmp_path / "RESULTS.md")
    rows = {r.split("|")[1].strip(): r.split("|")[2:-1] for r in text.splitlines()
            if r.startswith("| /public")}  # fmt: skip
    assert set(rows) == {"/public, with base map", "/public, no base map"}, text
    assert int(rows["/public, with base map"][2]) > 0  # tile requests
    assert rows["/public, no base map"][1].strip() == "—"
    assert int(rows["/public, no base map"][2]) == 0
