"""A tiny run of ``python -m bench`` (10k houses, 100 grids): it runs, and every peer agrees.

No timing asserts: the machine is shared. The peers (geopandas sjoin, DuckDB spatial from the
``duckdb-extension-spatial`` wheel, PostGIS in a throw-away cluster) must each give the same
grid for every house as wangge, or ``python -m bench`` exits 1 and names the disagreement.
"""

from __future__ import annotations

import re

from tests.bench.smoke import run_smoke

LINE = re.compile(
    r"^- (?P<case>.+): wangge vs (?P<peer>.+?) (?P<ratio>\d+(\.\d+)?)×( \(CPU time: .+×\))?$"
)


def test_smoke_run_agrees_with_every_peer_and_writes_ratio_lines(tmp_path):
    results = tmp_path / "RESULTS.md"
    text = run_smoke("bench", results)
    assert "## Problems\n\n- none" in text, text
    ratios = [m.groupdict() for m in map(LINE.match, text.splitlines()) if m]
    peers = {r["peer"] for r in ratios}
    assert {"PostGIS", "DuckDB", "geopandas sjoin"} <= peers, ratios
    assert {"GEOS floor", "naive pairwise"} <= peers, ratios
    assert all(float(r["ratio"]) > 0 for r in ratios)
    # every assignment peer answered every house, and no answer differed from wangge's
    table = [line.split("|") for line in text.splitlines() if line.startswith("| assign")]
    assert len(table) == 5, table  # wangge, sjoin, DuckDB 1 thread / all threads, PostGIS
    assert [row[5].strip() for row in table[1:]] == ["0"] * 4
