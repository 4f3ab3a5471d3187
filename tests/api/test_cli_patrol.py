"""``wangge patrol hours``: exit codes, the exact JSON keys and figures, on files in tmp_path."""

from __future__ import annotations

import datetime as dt
import json

import typer
from typer.testing import CliRunner

from api.cli.patrol import app as patrol_app
from tests.common import grids_frame, rect_m
from tests.gis.test_patrol import (
    CODE_A,
    CODE_B,
    EXPECTED_A_S,
    EXPECTED_B_S,
    LEGS,
    MAY6_8AM,
    gpx_text,
    walk,
    write_csv,
)

app = typer.Typer()
app.add_typer(patrol_app, name="patrol")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["patrol", "hours", *(str(a) for a in args)])


def files(tmp_path):
    grids = tmp_path / "grids.geojson"
    frame = grids_frame([CODE_A, CODE_B], [rect_m(0, 0, 100, 100), rect_m(100, 0, 200, 100)])
    frame.rename(columns={"code": "grid_no"}).to_file(grids, driver="GeoJSON")
    track = tmp_path / "walk.gpx"
    track.write_text(gpx_text([walk(MAY6_8AM, LEGS)]), encoding="utf-8")
    return track, grids


def test_hours_json_has_exactly_the_contract_keys_and_hand_computed_hours(tmp_path):
    track, grids = files(tmp_path)
    result = run(track, "--worker", "张三", "--grids", grids, "--code-field", "grid_no", "--json")
    assert result.exit_code == 1, result.output  # a short week is a finding
    payload = json.loads(result.stdout)
    assert list(payload) == ["days", "weeks"]
    assert all(list(day) == ["date", "grid_code", "hours"] for day in payload["days"])
    assert all(list(week) == ["week_start", "hours", "under_15h"] for week in payload["weeks"])
    hours = {day["grid_code"]: day["hours"] for day in payload["days"]}
    assert hours == {CODE_A: round(EXPECTED_A_S / 3600, 3), CODE_B: round(EXPECTED_B_S / 3600, 3)}
    assert {day["date"] for day in payload["days"]} == {"2024-05-06"}
    assert payload["weeks"] == [
        {
            "week_start": "2024-05-06",
            "hours": round((EXPECTED_A_S + EXPECTED_B_S) / 3600, 3),
            "under_15h": True,
        }
    ]


def test_hours_text_output_and_gcj02_flag(tmp_path):
    _, grids = files(tmp_path)
    fixes = walk(MAY6_8AM, LEGS)
    gcj = write_csv(tmp_path / "gcj.csv", fixes, gcj02=True)
    flagged = run(gcj, "--worker", "李四", "--grids", grids, "--code-field", "grid_no", "--gcj02")
    assert flagged.exit_code == 1, flagged.output
    assert "李四" in flagged.stdout and CODE_A in flagged.stdout
    as_wgs84 = run(gcj, "--worker", "李四", "--grids", grids, "--code-field", "grid_no", "--json")
    assert as_wgs84.exit_code == 1
    assert json.loads(as_wgs84.stdout)["days"] == []  # hundreds of metres off: never inside


def test_gap_option_is_applied(tmp_path):
    _, grids = files(tmp_path)
    fixes = [(MAY6_8AM + dt.timedelta(minutes=m), 50.0, 50.0) for m in (0, 20)]
    track = write_csv(tmp_path / "slow.csv", fixes)
    args = ("--worker", "王五", "--grids", grids, "--code-field", "grid_no", "--json")
    default = json.loads(run(track, *args).stdout)
    assert default["days"] == []  # 20 min > the 10 min cap: nothing credited
    wide = json.loads(run(track, *args, "--max-gap-s", "1800").stdout)
    assert wide["days"] == [{"date": "2024-05-06", "grid_code": CODE_A, "hours": 0.333}]


def _steady_track(path, hours: float):
    """Fixes every 5 minutes (under the 10-minute gap cap) inside grid A for ``hours``."""
    fixes = [
        (MAY6_8AM + dt.timedelta(minutes=5 * k), 50.0 + (k % 2), 50.0)
        for k in range(int(hours * 12) + 1)
    ]
    return write_csv(path, fixes)


def test_exit_code_says_whether_a_week_is_short(tmp_path):
    """15 h or more in the week: 0; less: 1 (the threshold is DEFAULT_THRESHOLD_HOURS)."""
    _, grids = files(tmp_path)
    args = ("--worker", "王五", "--grids", grids, "--code-field", "grid_no", "--json")
    for hours, code in ((16.0, 0), (15.0, 0), (14.5, 1)):
        track = _steady_track(tmp_path / f"t{hours}.csv", hours)
        result = run(track, *args)
        assert result.exit_code == code, (hours, result.output)
        week = json.loads(result.stdout)["weeks"][0]
        assert week["hours"] == hours and week["under_15h"] is (code == 1)


def test_bad_input_exits_2(tmp_path):
    track, grids = files(tmp_path)
    bad_track = tmp_path / "bad.csv"
    bad_track.write_text("time,lon,lat\n2024-05-06 08:00,abc,31.2\n", encoding="utf-8")
    cases = {
        "bad row": (bad_track, "--worker", "A", "--grids", grids, "--code-field", "grid_no"),
        "missing track": (tmp_path / "none.gpx", "--worker", "A", "--grids", grids),
        "no code field": (track, "--worker", "A", "--grids", grids, "--code-field", "code"),
        "no grids": (track, "--worker", "A"),
        "grids and db": (
            track,
            "--worker",
            "A",
            "--grids",
            grids,
            "--db",
            f"sqlite:///{tmp_path}/x.db",
        ),
    }
    for name, args in cases.items():
        result = run(*args)
        assert result.exit_code == 2, (name, result.output)
    assert "row 2" in run(*cases["bad row"]).stderr


def test_worker_is_required(tmp_path):
    track, grids = files(tmp_path)
    result = run(track, "--grids", grids)
    assert result.exit_code == 2
