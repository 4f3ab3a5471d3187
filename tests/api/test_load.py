"""A small bounded load (bench.load.run_load) against ``wangge serve`` on both engines: no
errors, no lost or duplicated incident, every history consistent. No timing asserts."""

from __future__ import annotations

from bench.load import run_load


def test_bounded_load_loses_nothing(fresh_db_url):
    result = run_load(fresh_db_url, requests=150, concurrency=8, seconds_cap=120)
    counts, check = result["counts"], result["check"]
    assert result["errors"] == [], result["errors"][:5]
    assert not result["capped"]
    # every request of the budget went out (a race sends two at once; one may be left over)
    assert result["sent"] >= result["requests"] - 1
    assert counts["locate 200"] > 0 and counts["report 201"] > 0 and counts["transition 200"] > 0
    assert counts.get("transition 409 (race)", 0) > 0  # the deliberate races happened
    assert check["stored"] == counts["report 201"]
    for key in ("lost", "duplicated", "unacknowledged_stored", "wrong_id"):
        assert check[key] == [], (key, check[key])
    assert check["bad_histories"] == {}
    assert check["version_mismatch"] == {}
    # concurrent writers wait their turn (SQLite: reports begin IMMEDIATE), none is refused
    assert result["unavailable"] == []
    assert not any(k.endswith("503 retried") for k in counts), counts
