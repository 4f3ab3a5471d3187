"""A tiny run of ``python -m bench.dask_assign --smoke``: the Dask case runs as a user runs it,
next to the single process, and the two outputs agree row by row. No timing asserts: the
machine is shared."""

from __future__ import annotations

from tests.bench.smoke import run_smoke


def test_dask_case_runs_and_agrees_with_the_single_process(tmp_path):
    text = run_smoke("bench.dask_assign", tmp_path / "RESULTS.md")
    assert "## Dask assignment" in text, text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0]]
    by_case = {
        r[0].strip(): dict(zip(header, (c.strip() for c in r), strict=True)) for r in rows[1:]
    }
    assert set(by_case) == {"single process", "dask, 2 workers × 1 thread"}, text
    dask = by_case["dask, 2 workers × 1 thread"]
    assert dask["rows differing from the single process"] == "0"  # in any column
    assert "workers" in dask["peak RSS"] and dask["CPU"].endswith(" s")
    assert by_case["single process"]["peak RSS"].endswith(" MiB")
    assert "Dask assignment of 200,000 points: dask vs single process" in text
