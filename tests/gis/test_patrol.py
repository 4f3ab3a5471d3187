"""gis.patrol: tracks read, cleaned and timed inside grids, against hand-computed figures.

Tracks are built in metres (EPSG:4549, around ``tests.common.ORIGIN_M``) at a known speed
along straight legs, so the time inside each 100 m square is known from the geometry alone:
a leg of L metres at 1 m/s inside a square for ℓ metres spends ℓ seconds there.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gis.crs import wgs84_to_gcj02
from gis.errors import InputError, UnreadableFileError
from gis.patrol import (
    TRACK_COLUMNS,
    clean_track,
    patrol_report,
    read_track,
    time_in_grids,
    weekly_summary,
)
from tests.common import METRIC_CRS, ORIGIN_M, cell_m, code, grids_frame, rect_m

TO_LONLAT = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True)
UTC = dt.UTC
SH = "Asia/Shanghai"

# Grid A = [0,100]², grid B = [100,200]×[0,100] (metres from ORIGIN_M). B's code sorts
# first, so B is credited on the shared edge x = 100 although A comes first in the file.
CODE_A, CODE_B = code(2), code(1)


def two_grids():
    return grids_frame([CODE_A, CODE_B], [rect_m(0, 0, 100, 100), rect_m(100, 0, 200, 100)])


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    return TO_LONLAT.transform(ORIGIN_M[0] + x_m, ORIGIN_M[1] + y_m)


def walk(start: dt.datetime, legs, *, speed_mps: float = 1.0, step_s: float = 40.0):
    """Fixes (time, x, y) along straight legs at constant speed: every ``step_s`` seconds
    and at every leg end (so each pair of fixes lies on one leg)."""
    (x, y), t = legs[0], 0.0
    fixes = [(start, x, y)]
    for x1, y1 in legs[1:]:
        length = math.hypot(x1 - x, y1 - y)
        duration = length / speed_mps
        for k in range(1, math.ceil(duration / step_s - 1e-9)):
            f = k * step_s / duration
            when = start + dt.timedelta(seconds=t + k * step_s)
            fixes.append((when, x + f * (x1 - x), y + f * (y1 - y)))
        t += duration
        fixes.append((start + dt.timedelta(seconds=t), x1, y1))
        x, y = x1, y1
    return fixes


def frame(fixes, segments=None, accuracy=None) -> pd.DataFrame:
    """A track frame (TRACK_COLUMNS) from metric fixes with tz-aware times."""
    lon, lat = zip(*(lonlat(x, y) for _, x, y in fixes), strict=True)
    return pd.DataFrame(
        {
            "time": pd.DatetimeIndex([t for t, _, _ in fixes]).tz_convert(SH),
            "lon": lon,
            "lat": lat,
            "segment": segments if segments is not None else [0] * len(fixes),
            "accuracy_m": accuracy if accuracy is not None else [np.nan] * len(fixes),
        }
    )


def gpx_text(segments, *, version: str = "1.1", extra=None) -> str:
    """GPX with one <trk>, one <trkseg> per list of fixes; times written in UTC (Z)."""
    extra = extra or {}
    body, n = [], 0
    for fixes in segments:
        body.append("<trkseg>")
        for t, x, y in fixes:
            n += 1
            lon, lat = lonlat(x, y)
            stamp = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            body.append(
                f'<trkpt lat="{lat!r}" lon="{lon!r}"><time>{stamp}</time>{extra.get(n, "")}</trkpt>'
            )
        body.append("</trkseg>")
    ns = f"http://www.topografix.com/GPX/{version.replace('.', '/')}"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="{version}" creator="test" '
        f'xmlns="{ns}"><trk><name>t</name>{"".join(body)}</trk></gpx>'
    )


def write_csv(path: Path, fixes, *, time_format=None, gcj02=False, header=("time", "lon", "lat")):
    rows = [",".join(header)]
    for t, x, y in fixes:
        lon, lat = lonlat(x, y)
        if gcj02:
            lon, lat = wgs84_to_gcj02(lon, lat)
        stamp = time_format(t) if time_format else t.isoformat()
        rows.append(f"{stamp},{lon!r},{lat!r}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def seconds_by_grid(days: pd.DataFrame) -> dict[str, float]:
    return days.groupby("grid_code")["seconds"].sum().to_dict()


MAY6_8AM = dt.datetime(2024, 5, 6, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai

# Legs at 1 m/s (metres from ORIGIN_M), fixes every 40 s so most crossings fall between
# fixes. Hand figures, per leg, metres (= seconds) inside A | B:
#   (-50,50)→(150,50)    x∈[0,100] in A: 100      | x∈[100,150]: 50
#   (150,50)→(150,80)                              | 30
#   (150,80)→(-50,80)    100                        | 50
#   (-50,80)→(50,-20)    on x+y=30, x∈[0,30]: 30√2 | 0
#   (50,-20)→(50,120)    y∈[0,100]: 100 (fix on y=100) | 0
#   (50,120)→(100,120)   0                          | 0
#   (100,120)→(100,-20)  shared edge y∈[0,100]: 0   | 100 (B's code sorts first)
LEGS = [(-50, 50), (150, 50), (150, 80), (-50, 80), (50, -20), (50, 120), (100, 120), (100, -20)]
EXPECTED_A_S = 300 + 30 * math.sqrt(2)
EXPECTED_B_S = 50 + 30 + 50 + 100


def test_gpx_track_entering_and_leaving_grids_matches_hand_computed_seconds(tmp_path):
    fixes = walk(MAY6_8AM, LEGS)
    path = tmp_path / "walk.gpx"
    path.write_text(gpx_text([fixes]), encoding="utf-8")
    track = read_track(path)
    assert list(track.columns) == list(TRACK_COLUMNS)
    assert track["time"].iloc[0] == pd.Timestamp("2024-05-06 08:00", tz=SH)
    days = time_in_grids(clean_track(track), two_grids())
    got = seconds_by_grid(days)
    assert got[CODE_A] == pytest.approx(EXPECTED_A_S, abs=1e-3)
    assert got[CODE_B] == pytest.approx(EXPECTED_B_S, abs=1e-3)
    assert list(days["date"]) == [dt.date(2024, 5, 6)] * 2
    assert days["hours"].to_numpy() == pytest.approx(days["seconds"].to_numpy() / 3600)
    # rounding crossings to the nearest fix would be off by up to 20 s per crossing
    assert clean_track(track).index.tolist() == list(range(len(fixes)))


def test_patrol_report_shape_and_rounding():
    report = patrol_report(frame(walk(MAY6_8AM, LEGS)), two_grids())
    assert set(report) == {"days", "weeks"}
    assert report["days"] == [
        {"date": "2024-05-06", "grid_code": CODE_B, "hours": round(EXPECTED_B_S / 3600, 3)},
        {"date": "2024-05-06", "grid_code": CODE_A, "hours": round(EXPECTED_A_S / 3600, 3)},
    ]
    total_h = (EXPECTED_A_S + EXPECTED_B_S) / 3600
    assert report["weeks"] == [
        {"week_start": "2024-05-06", "hours": round(total_h, 3), "under_15h": True}
    ]


def gap_and_jump_fixes():
    """1 m/s along y=50 from x=5 to 95 (t 0–90 s), a 2-hour gap, back along y=60 (90 s)."""
    start = MAY6_8AM
    out_leg = [(start + dt.timedelta(seconds=s), 5.0 + s, 50.0) for s in range(0, 91, 10)]
    back = start + dt.timedelta(seconds=90 + 7200)
    back_leg = [(back + dt.timedelta(seconds=s), 95.0 - s, 60.0) for s in range(0, 91, 10)]
    return out_leg + back_leg


def test_two_hour_gap_credits_nothing_and_splits_the_segment():
    track = frame(gap_and_jump_fixes())
    cleaned = clean_track(track)
    assert len(cleaned) == len(track)
    assert cleaned["segment"].tolist() == [0] * 10 + [1] * 10
    got = seconds_by_grid(time_in_grids(cleaned, two_grids()))
    assert got == {CODE_A: pytest.approx(180.0, abs=1e-6)}
    # the cap itself does it: time_in_grids on the raw track gives the same; no cap, 2 h more
    assert seconds_by_grid(time_in_grids(track, two_grids()))[CODE_A] == pytest.approx(180.0)
    uncapped = time_in_grids(track, two_grids(), max_gap_s=None)
    assert seconds_by_grid(uncapped)[CODE_A] == pytest.approx(180.0 + 7200.0)


def test_300_kmh_jump_is_dropped_and_the_walk_is_credited_in_full():
    fixes = gap_and_jump_fixes()
    jump_m = 300 / 3.6 * 10  # 300 km/h for the 10 s since the previous fix: 833.3 m
    t, x, y = fixes[4]  # t = 40 s, x = 45
    fixes[4] = (t, x + jump_m, y)
    track = frame(fixes)
    cleaned = clean_track(track)
    assert track.index.difference(cleaned.index).tolist() == [4]
    assert seconds_by_grid(time_in_grids(cleaned, two_grids())) == {
        CODE_A: pytest.approx(180.0, abs=1e-6)
    }
    # Uncleaned, the two pairs around the jump (35→878.3 m and 878.3→55 m, 10 s each) are
    # inside A only for their first 65 m of 843.3 m and their last 45 m of 823.3 m.
    raw = seconds_by_grid(time_in_grids(track, two_grids()))
    expected = 160 + 10 * 65 / (jump_m + 10) + 10 * 45 / (jump_m - 10)
    assert raw[CODE_A] == pytest.approx(expected, abs=1e-3)


def test_accuracy_limit_and_same_time_fixes_dropped():
    fixes = gap_and_jump_fixes()[:10]
    accuracy = [5.0] * 10
    accuracy[3] = 80.0
    fixes[6] = (fixes[5][0], fixes[5][1], fixes[5][2])  # same time and place as fix 5
    cleaned = clean_track(frame(fixes, accuracy=accuracy))
    assert frame(fixes).index.difference(cleaned.index).tolist() == [3, 6]
    kept_all = clean_track(frame(fixes, accuracy=accuracy), max_accuracy_m=None)
    assert 3 in kept_all.index


def test_segments_are_never_joined(tmp_path):
    first = [(MAY6_8AM + dt.timedelta(seconds=s), 10.0 + s, 50.0) for s in range(0, 61, 20)]
    second = [(MAY6_8AM + dt.timedelta(seconds=s), 90.0, 50.0 - (s - 120)) for s in (120, 140)]
    path = tmp_path / "two_segments.gpx"
    path.write_text(gpx_text([first, second], version="1.0"), encoding="utf-8")
    track = read_track(path)
    assert track["segment"].tolist() == [0] * 4 + [1] * 2
    # 60 s in the first segment, 20 s in the second; the 60 s between them are not credited
    got = seconds_by_grid(time_in_grids(clean_track(track), two_grids()))
    assert got == {CODE_A: pytest.approx(80.0, abs=1e-3)}


def test_track_across_midnight_is_split_between_the_days():
    # Shanghai local: 23:48 (50,50), 23:53 (60,50), 23:58 (70,50) in A; 00:03 (120,50) in B,
    # crossing x=100 at 30/50 of the 300 s pair = 00:01:00; 00:08 still at (120,50).
    night = dt.datetime(2024, 5, 12, 23, 48, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    places = [(50, 50), (60, 50), (70, 50), (120, 50), (120, 50)]
    fixes = [(night + dt.timedelta(minutes=5 * k), x, y) for k, (x, y) in enumerate(places)]
    days = time_in_grids(clean_track(frame(fixes)), two_grids())
    got = {(row.date, row.grid_code): row.seconds for row in days.itertuples()}
    sunday, monday = dt.date(2024, 5, 12), dt.date(2024, 5, 13)
    assert got == {
        (sunday, CODE_A): pytest.approx(720.0, abs=1e-3),
        (monday, CODE_A): pytest.approx(60.0, abs=1e-3),
        (monday, CODE_B): pytest.approx(420.0, abs=1e-3),
    }
    weeks = weekly_summary(days)
    assert weeks["week_start"].tolist() == [dt.date(2024, 5, 6), dt.date(2024, 5, 13)]
    assert weeks["seconds"].to_numpy() == pytest.approx([720.0, 480.0], abs=1e-3)


def test_gcj02_csv_gives_the_wgs84_answer_within_one_second(tmp_path):
    fixes = walk(MAY6_8AM, LEGS)
    wgs = read_track(write_csv(tmp_path / "wgs.csv", fixes))
    gcj = read_track(write_csv(tmp_path / "gcj.csv", fixes, gcj02=True), gcj02=True)
    got_wgs = seconds_by_grid(time_in_grids(clean_track(wgs), two_grids()))
    got_gcj = seconds_by_grid(time_in_grids(clean_track(gcj), two_grids()))
    assert got_wgs[CODE_A] == pytest.approx(EXPECTED_A_S, abs=1e-3)
    assert got_gcj.keys() == got_wgs.keys()
    for grid in got_wgs:
        assert abs(got_gcj[grid] - got_wgs[grid]) < 1.0
    # read as if WGS84, the same file lies hundreds of metres away: nothing inside
    unflagged = read_track(tmp_path / "gcj.csv")
    assert time_in_grids(clean_track(unflagged), two_grids()).empty


@pytest.mark.parametrize(
    "time_format",
    [
        lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),  # +08:00
        lambda t: t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),  # Z
        lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat(),  # +09:00
        lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S"),
        lambda t: str(int(t.timestamp())),  # Unix seconds
        lambda t: str(int(t.timestamp()) * 1000),  # Unix milliseconds
    ],
    ids=["offset+8", "utc-z", "offset+9", "naive-is-shanghai", "epoch-s", "epoch-ms"],
)
def test_csv_times_with_and_without_offsets(tmp_path, time_format):
    fixes = [(MAY6_8AM + dt.timedelta(seconds=s), 10.0 + s, 50.0) for s in range(0, 61, 20)]
    track = read_track(write_csv(tmp_path / "t.csv", fixes, time_format=time_format))
    expected = pd.DatetimeIndex([t for t, _, _ in fixes]).tz_convert(SH)
    assert (track["time"].to_numpy() == expected.to_numpy()).all()
    assert str(track["time"].dt.tz) == SH
    assert track["time"].iloc[0].hour == 8


def test_csv_chinese_headers_accuracy_and_segments(tmp_path):
    path = tmp_path / "cn.csv"
    lon, lat = lonlat(50, 50)
    path.write_text(
        "时间,经度,纬度,精度,segment\n"
        f"2024-05-06 08:00:00,{lon},{lat},5,0\n"
        f"2024-05-06 08:01:00,{lon},{lat},,0\n"
        f"2024-05-06 08:02:00,{lon},{lat},7.5,1\n",
        encoding="utf-8",
    )
    track = read_track(path)
    assert track["segment"].tolist() == [0, 0, 1]
    assert track["accuracy_m"].tolist()[0] == 5.0 and math.isnan(track["accuracy_m"].iloc[1])
    days = time_in_grids(track, two_grids())
    assert seconds_by_grid(days) == {CODE_A: pytest.approx(60.0)}


def test_gpx_accuracy_from_hdop_and_extensions(tmp_path):
    fixes = [(MAY6_8AM + dt.timedelta(seconds=s), 10.0 + s, 50.0) for s in (0, 10, 20, 30)]
    extra = {
        1: "<hdop>2</hdop>",
        2: "<hdop>12</hdop>",
        3: "<pdop>3</pdop><extensions><x:accuracy xmlns:x='urn:x'>70</x:accuracy></extensions>",
    }
    path = tmp_path / "acc.gpx"
    path.write_text(gpx_text([fixes], extra=extra), encoding="utf-8")
    track = read_track(path)
    assert track["accuracy_m"].tolist()[:3] == [10.0, 60.0, 70.0]
    assert math.isnan(track["accuracy_m"].iloc[3])
    assert clean_track(track).index.tolist() == [0, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "time,lon,lat\n2024-05-06 08:00,121.49,31.24\n2024-05-06 08:01,abc,31.24\n",
            r"row 3.*lon.*not a number: 'abc'",
        ),
        (
            "time,lon,lat\n2024-05-06 08:00,121.49,31.24\nyesterday,121.49,31.24\n",
            r"row 3.*not a time: 'yesterday'",
        ),
        ("time,lon,lat\n,121.49,31.24\n", r"row 2.*time is empty"),
        ("time,lon,lat\nnow,121.49,31.24\n", r"row 2.*not a time: 'now'"),
        ("time,lon,lat\n2024-05-06 08:00,121.49,131.24\n", r"row 2.*lat out of range"),
        ("time,lon,lat\n2024-05-06 08:00,121.49,31.24,5\n", r"row 2"),
        ("when,lon,lat\n2024-05-06 08:00,121.49,31.24\n", r"missing column.*time"),
        ("time,lon,lat\n", r"no fixes"),
        ("time,lon,lat,accuracy\n2024-05-06 08:00,121.49,31.24,-3\n", r"row 2.*negative"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_track(path)


def test_bad_gpx_points_and_files_are_named(tmp_path):
    fixes = [(MAY6_8AM + dt.timedelta(seconds=s), 10.0, 50.0) for s in (0, 10)]
    text = gpx_text([fixes])
    second = text.index("<time>", text.index("<time>") + 1)
    no_time = text[:second] + text[text.index("</time>", second) + len("</time>") :]
    path = tmp_path / "no_time.gpx"
    path.write_text(no_time, encoding="utf-8")
    with pytest.raises(InputError, match=r"trkpt 2 \(trkseg 1\).*time is empty"):
        read_track(path)
    path.write_text(text.replace('lat="', 'lat="x', 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"trkpt 1 .*lat.*not a number"):
        read_track(path)
    path.write_text(text[:-20], encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="cannot parse GPX"):
        read_track(path)
    with pytest.raises(UnreadableFileError, match="file not found"):
        read_track(tmp_path / "missing.gpx")
    with pytest.raises(UnreadableFileError, match="unsupported track file type"):
        read_track(tmp_path / "track.kml")


def test_weekly_summary_flags_a_week_under_15_hours():
    # Mon 6 May: three days of 5 h standing in A (15 h, not under); Mon 13 May: two days of
    # 7 h (14 h, under); Mon 20 May: a logged day spent outside (0 h, under).
    fixes, segments = [], []
    for day, hours in [(6, 5), (8, 5), (10, 5), (13, 7), (15, 7)]:
        start = dt.datetime(2024, 5, day, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        fixes += [(start + dt.timedelta(minutes=10 * k), 50.0, 50.0) for k in range(hours * 6 + 1)]
        segments += [day] * (hours * 6 + 1)
    outside = dt.datetime(2024, 5, 21, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    fixes += [(outside + dt.timedelta(minutes=10 * k), 500.0, 500.0) for k in range(7)]
    segments += [21] * 7
    report = patrol_report(frame(fixes, segments=segments), two_grids())
    assert report["weeks"] == [
        {"week_start": "2024-05-06", "hours": 15.0, "under_15h": False},
        {"week_start": "2024-05-13", "hours": 14.0, "under_15h": True},
        {"week_start": "2024-05-20", "hours": 0.0, "under_15h": True},
    ]
    assert [d["hours"] for d in report["days"]] == [5.0, 5.0, 5.0, 7.0, 7.0]
    assert {d["grid_code"] for d in report["days"]} == {CODE_A}


def test_weekly_summary_threshold_is_strict_and_configurable():
    days = pd.DataFrame({"date": [dt.date(2024, 5, 12)], "hours": [15.0]})  # a Sunday
    weeks = weekly_summary(days)
    assert weeks["week_start"].tolist() == [dt.date(2024, 5, 6)]
    assert weeks["under_15h"].tolist() == [False]
    assert weekly_summary(days, threshold_hours=15.001)["under_15h"].tolist() == [True]
    assert weekly_summary(days.iloc[:0]).empty


def test_short_or_empty_inputs_give_empty_frames():
    one = frame([(MAY6_8AM, 50.0, 50.0)])
    days = time_in_grids(one, two_grids())
    assert days.empty
    assert days.columns.tolist() == ["date", "grid_code", "seconds", "hours"]
    assert clean_track(one.iloc[:0]).empty
    with pytest.raises(InputError, match="no code field 'name'"):
        time_in_grids(one, two_grids(), code_field="name")


BASE_CODES = [code(i) for i in range(1, 7)]
# On grid lines (multiples of 100) or anywhere inside the 300 m × 200 m base community.
xs = st.one_of(st.sampled_from([0.0, 100.0, 200.0, 300.0]), st.floats(0, 300))
ys = st.one_of(st.sampled_from([0.0, 100.0, 200.0]), st.floats(0, 200))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(xs, ys, st.integers(1, 600)), min_size=2, max_size=12))
def test_time_inside_a_gapless_division_adds_up_to_the_track_duration(steps):
    """Every moment of a track inside the community is credited to exactly one grid."""
    t, fixes = MAY6_8AM, []
    for x, y, seconds in steps:
        t += dt.timedelta(seconds=seconds)
        fixes.append((t, x, y))
    grids = grids_frame(BASE_CODES, [cell_m(i) for i in range(1, 7)])
    days = time_in_grids(frame(fixes), grids)
    duration = (fixes[-1][0] - fixes[0][0]).total_seconds()
    assert days["seconds"].sum() == pytest.approx(duration, abs=1e-3)


def test_a_gpx_with_entities_is_refused_unexpanded(tmp_path):
    """Uploaded GPX is parsed without DTDs: an entity bomb (or an external entity) is an
    unreadable file, never expanded."""
    from gis.errors import UnreadableFileError
    from gis.patrol import read_track

    bomb = tmp_path / "bomb.gpx"
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 9))
    bomb.write_text(
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY l0 "lol">{lol}]>'
        '<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="31.2" lon="121.4"><time>&l8;</time></trkpt></trkseg></trk></gpx>',
        encoding="utf-8",
    )
    with pytest.raises(UnreadableFileError, match="GPX"):
        read_track(bomb)
