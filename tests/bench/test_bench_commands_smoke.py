"""A tiny run of ``python -m bench.commands --smoke``: every whole-command case runs, as a user
runs it, next to its script, and where both answer (grid codes) they agree. No timing asserts:
the machine is shared."""

from __future__ import annotations

import pytest

from tests.bench.smoke import run_smoke


def test_whole_command_cases_run_and_agree_with_their_scripts(tmp_path):
    results = tmp_path / "RESULTS.md"
    text = run_smoke("bench.commands", results)
    assert "## Whole commands" in text and "PROBLEM" not in text, text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    cases = [r[0].strip() for r in rows[1:]]  # the first row is the header
    for command in ("assign", "validate", "geocode", "import"):
        assert sum(c.startswith(command) for c in cases) >= 1, cases
    for command in ("assign", "geocode", "import"):  # on the larger and on the 24-grid division
        on = [c for c in cases if c.startswith(command)]
        assert len(on) == 2 and sum(c.endswith("/ 24 grids") for c in on) == 1, cases
    assert "validate 24 grids" in cases
    for r in rows[1:]:
        assert r[7].strip() in ("met", "MISSED")
        assert r[8].strip() in ("—", "0"), r  # grid codes agree where both give them
        # the best ratio possible is the script's CPU over the imports alone, as printed
        script_cpu, floor_cpu = float(r[4].strip(" s")), float(r[9].strip(" s"))
        best = float(r[10].strip(" ×"))
        assert floor_cpu > 0 and best == pytest.approx(script_cpu / floor_cpu, rel=0.1), r
