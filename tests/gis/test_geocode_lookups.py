"""The look-ups the geocoder's speed rests on, against plain computations of the same answers.

* names at a position (place names and road forms): :func:`gis.address._names_at`, one
  slice per length, against scanning every name with ``startswith``; the road an address
  names (:func:`gis.address._find_known_road`) against its rule written out by brute force;
* the canonical characters of :func:`gis.address.normalise` against its steps done one by
  one (NFKC, white-space removed, OpenCC t2s, brackets, dashes, ``#``, upper case);
* the grids of geocoding results (:class:`gis.geocode.GridLookup`, which finds the door
  plates' grids only when a lane or road result first needs them) against plain
  ``shapely.covers`` per point, over calls in any order;
* the gazetteer's metric view, made on first use: interpolation and the nearest door plates
  against distances computed here in the gazetteer's metric CRS with pyproj.
"""

from __future__ import annotations

import re
import unicodedata

import geopandas as gpd
import numpy as np
import opencc
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely import Point, box

from gis.address import (
    _alias_index,
    _canonical_characters,
    _find_known_road,
    _names_at,
    build_road_forms,
    national_admin_aliases,
)
from gis.geocode import Gazetteer, GridLookup, geocode_table
from tests.conftest import expected_code

# a small alphabet, so that generated names and texts overlap often
_ALPHABET = "东西南路街1号2弄北京市区"
_names = st.text(_ALPHABET, min_size=1, max_size=5)


def _names_at_by_scanning(text: str, start: int, names: dict) -> list[str]:
    """Every name ``text`` has at ``start``, longest first: by scanning all of them."""
    found = [name for name in names if name and text.startswith(name, start)]
    return sorted(found, key=len, reverse=True)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_names, st.just(("district", "x", False)), max_size=12),
       st.text(_ALPHABET, max_size=12))  # fmt: skip
def test_names_at_a_position_are_those_a_scan_finds(names, text):
    index = _alias_index(names)
    for start in range(len(text) + 1):
        assert list(_names_at(text, start, names, index)) == _names_at_by_scanning(
            text, start, names
        )


def test_a_table_in_use_keeps_its_index_among_many_small_ones():
    """A gazetteer read with a road column makes one small table of road forms per road; the
    national table of place names, used in between, keeps its index (it is not rebuilt)."""
    national = national_admin_aliases()
    first = _alias_index(national)
    for k in range(40):
        small = {f"路{k}": f"路{k}"}
        assert _alias_index(small) == {"路": (len(f"路{k}"),)}
        assert _alias_index(national) is first


def _known_road_by_rule(text: str, forms: dict[str, str]):
    """The docstring's rule by brute force: a full name anywhere, a name without 路/街 only
    before a digit; the first occurrence before a number (longest there), else the first."""
    occurrences = []
    for start in range(len(text)):
        for form, road in forms.items():
            if not text.startswith(form, start):
                continue
            end = start + len(form)
            numbered = end < len(text) and text[end].isdigit()
            if form == road or numbered:
                occurrences.append((start, end, road, form != road, numbered))
    if not occurrences:
        return None
    numbered = [o for o in occurrences if o[4]] or occurrences
    start, end, road, alias, _ = min(numbered, key=lambda o: (o[0], -(o[1] - o[0])))
    return start, end, road, alias


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("东西南北中山京江", min_size=1, max_size=3).map(lambda s: s + "路"),
                max_size=6),
       st.text(_ALPHABET + "中山京江", max_size=14))  # fmt: skip
def test_the_road_found_follows_the_rule(roads, text):
    forms = build_road_forms(roads)
    assert _find_known_road(text, forms) == _known_road_by_rule(text, forms)


_T2S = opencc.OpenCC("t2s")


def _canonical_step_by_step(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    if not text:
        return ""
    text = _T2S.convert(text)
    for before, after in (("【", "("), ("】", ")"), ("〔", "("), ("〕", ")"), ("[", "("),
                          ("]", ")"), ("—", "-"), ("–", "-"), ("－", "-"), ("―", "-"),
                          ("~", "-"), ("#", "号")):  # fmt: skip
        text = text.replace(before, after)
    return text.upper()


_MARKS = "【】〔〕[]—–－―~#（）　 \t\n\u3000\u00a0\u2028\x1c\x1f"


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(list(_MARKS) + list("圓明園路號九江路ab12１２")), max_size=16)
       | st.text(max_size=12))  # fmt: skip
def test_canonical_characters_are_the_steps_one_by_one(text):
    assert _canonical_characters.__wrapped__(text) == _canonical_step_by_step(text)


# --- grids of results ---------------------------------------------------------------------

LON0, LAT0 = 121.48, 31.23
STEP = 0.0004


def _plates(n: int) -> gpd.GeoDataFrame:
    """Door plates 1..n on 九江路 (eastwards) and 汉口路 (northwards), and 36弄 of 九江路."""
    addresses, points = [], []
    for k in range(1, n + 1):
        addresses.append(f"九江路{2 * k}号")
        points.append(Point(LON0 + k * STEP, LAT0))
        addresses.append(f"汉口路{2 * k + 1}号")
        points.append(Point(LON0, LAT0 + k * STEP))
    for k in range(1, 4):
        addresses.append(f"九江路36弄{k}号")
        points.append(Point(LON0 + 0.5 * STEP, LAT0 + k * STEP))
    return gpd.GeoDataFrame({"address": addresses}, geometry=points, crs=4326)


def _division(cuts_x: list[float], cuts_y: list[float]) -> gpd.GeoDataFrame:
    xs = [LON0 - 0.01, *sorted(cuts_x), LON0 + 0.05]
    ys = [LAT0 - 0.01, *sorted(cuts_y), LAT0 + 0.05]
    cells, codes = [], []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cells.append(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
            codes.append(f"G{i}{j}")
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=4326)


def _grids_by_brute_force(gaz: Gazetteer, grids, result):
    """(grid_code, grid_candidates) of one result by plain shapely.covers per point."""
    if result.lon is None:
        return None, []
    if result.match_level in ("lane", "road") and result.extent:
        frame = gaz.frame.reset_index(drop=True)
        codes = {expected_code(grids, frame.geometry.iloc[i]) for i in result.extent} - {None}
        codes = sorted(codes)
        return (codes[0], []) if len(codes) == 1 else (None, codes)
    return expected_code(grids, Point(result.lon, result.lat)), []


_ADDRESSES = ["九江路4号", "九江路5号", "九江路", "汉口路7号", "汉口路", "九江路36弄2号",
              "九江路36弄9号", "九江路100号", "不详", "九江路13号"]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 12),
    cuts_x=st.lists(st.integers(1, 30).map(lambda k: LON0 + k * STEP / 2), max_size=3),
    cuts_y=st.lists(st.integers(1, 30).map(lambda k: LAT0 + k * STEP / 2), max_size=3),
    batches=st.lists(st.lists(st.sampled_from(_ADDRESSES), max_size=6), min_size=1, max_size=3),
)
def test_grids_of_results_are_those_of_their_points_in_any_call_order(n, cuts_x, cuts_y, batches):
    """Door plates first, roads later (or the other way): each call answers as shapely does;
    cuts on half-steps put plates on grid edges (the smallest code covering them wins)."""
    gaz = Gazetteer.from_frame(_plates(n))
    grids = _division(cuts_x, cuts_y)
    lookup = GridLookup(gaz, grids)
    for batch in batches:
        results = [gaz.geocode(a) for a in batch]
        assert lookup.grids(results) == [_grids_by_brute_force(gaz, grids, r) for r in results]


def test_a_table_of_door_plates_looks_up_no_plate_grids_and_a_road_then_does():
    gaz = Gazetteer.from_frame(_plates(6))
    grids = _division([LON0 + 2.5 * STEP], [])
    lookup = GridLookup(gaz, grids)
    plates = [gaz.geocode("九江路2号"), gaz.geocode("九江路12号")]
    assert lookup.grids(plates) == [("G00", []), ("G10", [])]
    assert lookup._row_grid is None  # nothing needed the door plates' grids yet
    road = gaz.geocode("九江路")
    assert lookup.grids([road, *plates]) == [(None, ["G00", "G10"]), ("G00", []), ("G10", [])]
    assert lookup._row_grid is not None


def test_geocode_table_grids_match_brute_force_for_every_row():
    gaz = Gazetteer.from_frame(_plates(8))
    grids = _division([LON0 + 3 * STEP], [LAT0 + 2 * STEP])
    table = pd.DataFrame({"address": _ADDRESSES * 2})
    out = geocode_table(table, column="address", gazetteer=gaz, grids=grids)
    for k, address in enumerate(table["address"]):
        code, candidates = _grids_by_brute_force(gaz, grids, gaz.geocode(address))
        assert out.loc[k, "grid_code"] == code
        assert (out.loc[k, "grid_candidates"] is None) == (not candidates)


# --- the metric view, made on first use ------------------------------------------------------


def test_interpolation_and_nearest_are_measured_in_the_metric_crs():
    gaz = Gazetteer.from_frame(_plates(6))
    assert "_xy" not in gaz.__dict__  # not projected until a distance is needed
    to_metric = Transformer.from_crs(4326, gaz.metric_crs, always_xy=True)
    to_lonlat = Transformer.from_crs(gaz.metric_crs, 4326, always_xy=True)
    # 九江路 holds the even numbers 2..12: an odd number has no plate of its parity to lie
    # between (the road's representative plate); 6号, taken out, lies between 4号 and 8号
    result = gaz.geocode("九江路9号")
    assert result.match_level == "road" and not result.interpolated
    plates = _plates(6)
    gaz_gap = Gazetteer.from_frame(plates[plates["address"] != "九江路6号"])
    result = gaz_gap.geocode("九江路6号")
    assert result.match_level == "road" and result.interpolated
    (x4, x8), (y4, y8) = to_metric.transform([LON0 + 2 * STEP, LON0 + 4 * STEP], [LAT0, LAT0])
    want = to_lonlat.transform((x4 + x8) / 2, (y4 + y8) / 2)
    assert result.lon == pytest.approx(want[0], abs=1e-9)
    assert result.lat == pytest.approx(want[1], abs=1e-9)
    # nearest: distances by pyproj here, order and radius as asked
    lon, lat = LON0 + 2.2 * STEP, LAT0 + 0.00001
    near = gaz.nearest(lon, lat, radius_m=100, k=3)
    px, py = to_metric.transform(lon, lat)
    xs, ys = to_metric.transform([p.x for p in plates.geometry], [p.y for p in plates.geometry])
    distances = np.hypot(np.asarray(xs) - px, np.asarray(ys) - py)
    order = np.argsort(distances, kind="stable")
    want_rows = [int(i) for i in order[:3] if distances[i] <= 100]
    assert list(near["address"]) == [plates["address"].iloc[i] for i in want_rows]
    assert near["distance_m"].to_numpy() == pytest.approx(distances[want_rows], abs=1e-6)
