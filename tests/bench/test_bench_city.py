"""A tiny run of ``python -m bench.city`` on a fresh PostGIS: it runs and its numbers add up.

No timing asserts (the machine is shared); the plans themselves are asserted in
``tests/api/test_city_plans.py`` at a size where the planner's choice means something.
"""

from __future__ import annotations

import json

from bench.city import main
from tests.conftest import postgis_database


def test_city_bench_runs_and_accounts_for_every_house(postgres_url, capsys):
    with postgis_database(postgres_url, prefix="citybench") as url:
        assert main(["--houses", "2000", "--side", "10", "--incidents", "3000", "--url", url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["grids"], out["houses"], out["incidents"]) == (100, 2000, 3000)
    assert out["assigned"] + out["outside"] == 2000 and out["outside"] == 0
    assert out["reassign_changed"] == 2000  # no house had a code before
    assert out["stats_year_groups"] == 100  # every grid had incidents over the year
    for key in ("plant_s", "assign_in_db_s", "reassign_houses_s", "stats_week_s", "stats_year_s"):
        assert out[key] > 0
