"""The labelled set of real door plates (data/geocode_real/) against its own gazetteer.

Door plates from two independent sources: three OpenStreetMap extracts of Shanghai
(addr:street + addr:housenumber, © OpenStreetMap contributors, ODbL) and the Hong Kong
Education Bureau's school locations (DATA.GOV.HK), each written in the forms people write
(data/make_geocode_real.py), truth from the source. Targets: precision ≥ 0.99 and recall
≥ 0.95 overall, in every variant class and level and for each source on its own; no wrong
door plate or lane at or above the confidence threshold. The figures are printed in the
test output (per match level, per variant class and per source).
"""

import csv
from pathlib import Path

import pandas as pd
import pytest

from gis.geocode import Gazetteer
from gis.geocode_eval import evaluate
from tests.reports import add_report

ROOT = Path(__file__).resolve().parents[2] / "data" / "geocode_real"
CASES = ROOT / "cases.csv"
PLATES = ROOT / "door_plates.csv"
VARIANTS = {
    "plain",
    "prefix_full",
    "traditional",
    "prefix_run_together",
    "full_width",
    "numeral_digitwise",
    "numeral_positional",
    "spaces",
    "bracket_note",
    "room_suffix",
    "missing_number",
    "other_place",
    "lane_plain",
    "lane_building",
}


def _pct(value) -> str:
    return "   —  " if value is None else f"{value:6.3f}"


@pytest.fixture(scope="module")
def report():
    gaz = Gazetteer.from_file(PLATES, road_column="road")
    result = evaluate(CASES, gaz, id_column="id")
    lines = [f"real door plates: {len(gaz)}, cases: {result['cases']}"]
    lines.append("level      reported correct precision expected recalled recall")
    for level, row in result["levels"].items():
        lines.append(
            f"{level:10s} {row['reported']:8d} {row['correct']:7d} {_pct(row['precision'])}"
            f"    {row['expected']:8d} {row['recalled']:8d} {_pct(row['recall'])}"
        )
    lines.append("variant              expected   cases precision recall")
    for variant, row in result["variants"].items():
        lines.append(
            f"{variant:20s} {row['expected_level']:9s} {row['cases']:6d} "
            f"{_pct(row['precision'])}  {_pct(row['recall'])}"
        )
    overall = result["overall"]
    lines.append(
        f"overall: precision {_pct(overall['precision'])}, recall {_pct(overall['recall'])}"
    )
    add_report("geocoding, real labelled set: by level and variant class", "\n".join(lines))
    return result


OSM_EXTRACTS = {
    "osm_bund_tiles.csv": "osm-bund-tiles",
    "osm_heritage_overpass.csv": "osm-heritage",
    "osm_lujiazui_tiles_2022.csv": "osm-lujiazui-tiles-2022",
}
SOURCES = {"OSM": set(OSM_EXTRACTS.values()), "HK-EDB": {"hk-edb-schools"}}


def test_the_set_is_500_real_door_plates_from_two_independent_sources():
    plates = pd.read_csv(PLATES, dtype=str, keep_default_na=False)
    assert len(plates) >= 500
    for source, extracts in SOURCES.items():
        mine = plates[plates["source"] == source]
        assert set(mine["extract"]) == extracts, source
        assert len(mine) >= 300, source
    assert set(plates["source"]) == set(SOURCES)
    assert not plates.duplicated(["road", "number"]).any()


def test_every_osm_plate_is_an_osm_feature():
    plates = pd.read_csv(PLATES, dtype=str, keep_default_na=False)
    raw = {}
    for name in OSM_EXTRACTS:
        with open(ROOT / name, encoding="utf-8") as f:
            raw.update({row["id"]: row for row in csv.DictReader(f)})
    for plate in plates[plates["source"] == "OSM"].itertuples():
        source = raw[plate.id]  # same OSM id, same street and point
        assert (source["lon"], source["lat"]) == (plate.lon, plate.lat)
        assert plate.road in source["road"]
        number = source["number"].replace("號", "号")
        assert plate.number.removesuffix("号").split("弄")[-1] in number + "号"


def test_every_hong_kong_plate_is_a_school_address_of_the_list():
    import opencc

    s2t = opencc.OpenCC("s2t")
    plates = pd.read_csv(PLATES, dtype=str, keep_default_na=False)
    with open(ROOT / "hk_edb_schools.csv", encoding="utf-8") as f:
        raw: dict[str, list[dict]] = {}
        for row in csv.DictReader(f):
            raw.setdefault(f"hk-edb/{row['school_no']}", []).append(row)
    wide = str.maketrans("０１２３４５６７８９ＡＢＣＤ", "0123456789ABCD")
    hk = plates[plates["source"] == "HK-EDB"]
    for plate in hk.itertuples():
        rows = [r for r in raw[plate.id] if (r["lon"], r["lat"]) == (plate.lon, plate.lat)]
        assert rows, plate.id  # the school's own point
        written = rows[0]["address_tc"].translate(wide).replace(" ", "")
        number = plate.number.removesuffix("号")
        # the road (in the list's traditional characters) right before the number and 號
        assert f"{number}號" in written, (plate.id, written)
        before = written[: written.index(f"{number}號")]
        assert before.endswith(s2t.convert(plate.road)) or opencc.OpenCC("t2s").convert(
            before
        ).endswith(plate.road), (plate.id, written, plate.road)
        assert plate.address.startswith("香港特别行政区")


def test_each_source_meets_the_targets_on_its_own(tmp_path):
    gaz = Gazetteer.from_file(PLATES, road_column="road")
    cases = pd.read_csv(CASES, dtype=str, keep_default_na=False)
    lines = []
    for source, extracts in SOURCES.items():
        mine = cases[cases["note"].str.extract(r"source=([\w-]+)")[0].isin(extracts)]
        path = tmp_path / f"{source}.csv"
        mine.to_csv(path, index=False)
        result = evaluate(path, gaz, id_column="id")
        overall = result["overall"]
        lines.append(
            f"{source:7s} cases {result['cases']:6d}  precision {_pct(overall['precision'])}"
            f"  recall {_pct(overall['recall'])}"
        )
        assert result["cases"] >= 3000, source
        assert overall["precision"] >= 0.99, source
        assert overall["recall"] >= 0.95, source
        assert result["wrong_above_threshold"] == [], source
    add_report("geocoding, real labelled set: per source", "\n".join(lines))


def test_every_case_names_a_real_plate_and_every_class_is_there():
    cases = pd.read_csv(CASES, dtype=str, keep_default_na=False)
    ids = set(pd.read_csv(PLATES, dtype=str)["id"])
    named = cases.loc[cases["expected_level"].isin(["doorplate", "lane"]), "expected_house_id"]
    assert set(named) <= ids
    variants = set(cases["note"].str.extract(r"variant=(\w+)")[0])
    assert variants == VARIANTS
    assert len(cases) >= 3000


def test_overall_precision_and_recall_meet_the_targets(report):
    overall = report["overall"]
    assert overall["precision"] >= 0.99
    assert overall["recall"] >= 0.95
    assert report["wrong_above_threshold"] == []


def test_every_variant_class_meets_the_targets(report):
    for variant, row in report["variants"].items():
        assert row["recall"] >= 0.95, variant
        if row["precision"] is not None:
            assert row["precision"] >= 0.99, variant


def test_every_match_level_meets_the_targets(report):
    for level in ("doorplate", "lane", "road"):
        row = report["levels"][level]
        assert row["precision"] >= 0.99, level
        assert row["recall"] >= 0.95, level
    assert report["levels"]["none"]["recall"] >= 0.95
    # lanes are reported at lane level, for the lane's own door plate
    assert report["variants"]["lane_building"]["recall"] >= 0.95
