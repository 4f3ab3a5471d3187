"""Tests of gis.codes: 15-digit grid codes and west→east, north→south numbering."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Polygon, box

from gis.codes import (
    GridCode,
    is_grid_code,
    make_grid_code,
    next_free_sequence,
    number_grids,
    parse_grid_code,
    renumber_keep_existing,
    spatial_order,
    spatial_rank,
)
from gis.errors import InputError

CRS_M = 4549  # CGCS2000 3° GK CM 120°E
X0, Y0 = 642_000.0, 3_459_000.0
PREFIX = "310109012003"


def lattice(rows: int, cols: int, cell_m: float = 100.0, jitter_m: float = 0.0, seed: int = 0):
    """A rows × cols tiling; returns (frame shuffled, expected sequence of each row).

    Vertices are shared between neighbours and moved by up to ``jitter_m`` in x and y, so
    the cells stay a tiling but become irregular quadrilaterals. Expected sequence of the
    cell in row r (0 = north) and column c (0 = west) is ``r * cols + c + 1``.
    """
    rng = np.random.default_rng(seed)
    vx = (
        X0
        + np.arange(cols + 1)[None, :] * cell_m
        + rng.uniform(-1, 1, (rows + 1, cols + 1)) * jitter_m
    )
    vy = (
        Y0
        - np.arange(rows + 1)[:, None] * cell_m
        + rng.uniform(-1, 1, (rows + 1, cols + 1)) * jitter_m
    )
    cells, expected = [], []
    for r in range(rows):
        for c in range(cols):
            ring = [
                (vx[r, c], vy[r, c]),
                (vx[r, c + 1], vy[r, c + 1]),
                (vx[r + 1, c + 1], vy[r + 1, c + 1]),
                (vx[r + 1, c], vy[r + 1, c]),
            ]
            cells.append(Polygon(ring))
            expected.append(r * cols + c + 1)
    perm = rng.permutation(len(cells))
    frame = gpd.GeoDataFrame(
        {"expected": np.array(expected)[perm]}, geometry=[cells[i] for i in perm], crs=CRS_M
    )
    return frame


# --- parse / format ---------------------------------------------------------------------


def test_parse_fields_and_format():
    code = parse_grid_code("310101002005008")
    assert code == GridCode("310101", "002", "005", 8)
    assert code.prefix == "310101002005"
    assert str(code) == "310101002005008"
    assert make_grid_code("310101002005", 8) == "310101002005008"


@settings(max_examples=80, deadline=None)
@given(
    division=st.integers(1, 999_999),
    street=st.integers(0, 999),
    community=st.integers(0, 999),
    sequence=st.integers(1, 999),
)
def test_round_trip(division, street, community, sequence):
    text = f"{division:06d}{street:03d}{community:03d}{sequence:03d}"
    parsed = parse_grid_code(text)
    assert str(parsed) == text
    assert parsed.sequence == sequence
    assert make_grid_code(parsed.prefix, parsed.sequence) == text
    assert is_grid_code(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("31010100200500", "has 14 characters"),
        ("3101010020050081", "has 16 characters"),
        ("31010100200500A", "other than digits"),
        ("31010100200500３", "other than digits"),  # full-width digit
        (" 31010100200500", "other than digits"),
        ("310101002005000", "sequence cannot be 000"),
        ("000000002005001", "division code cannot be 000000"),
        (310101002005001, "not a string"),
        (None, "not a string"),
    ],
)
def test_bad_codes_rejected_with_reason(value, reason):
    assert not is_grid_code(value)
    with pytest.raises(InputError, match=reason) as info:
        parse_grid_code(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "sequence", "reason"),
    [
        ("31010100200", 1, "must be 12 digits"),
        ("31010100200X", 1, "must be 12 digits"),
        ("310101002005", 0, "outside 1-999"),
        ("310101002005", 1000, "outside 1-999"),
        ("310101002005", 1.0, "not int"),
    ],
)
def test_make_grid_code_rejects(prefix, sequence, reason):
    with pytest.raises(InputError, match=reason):
        make_grid_code(prefix, sequence)


# --- spatial order --------------------------------------------------------------------------


def test_lattice_numbered_row_by_row():
    grids = lattice(3, 4)
    numbered = number_grids(grids, PREFIX)
    assert numbered["code"].tolist() == [make_grid_code(PREFIX, int(e)) for e in grids.expected]
    assert list(numbered.index) == list(grids.index)  # rows keep their place


@pytest.mark.parametrize("seed", range(5))
def test_irregular_lattice_numbered_row_by_row(seed):
    grids = lattice(3, 4, jitter_m=20.0, seed=seed)  # vertices moved up to 20 m of 100
    numbered = number_grids(grids, PREFIX)
    sequences = numbered["code"].str[12:].astype(int)
    assert sequences.tolist() == grids.expected.tolist()
    assert (spatial_rank(grids) + 1).tolist() == grids.expected.tolist()


def test_lonlat_input_is_ordered_in_metres():
    grids = lattice(3, 4, jitter_m=10.0, seed=7).to_crs(4326)
    order = spatial_order(grids)
    assert grids.expected.to_numpy()[order].tolist() == list(range(1, 13))


def test_spatial_order_checks_an_existing_numbering():
    grids = number_grids(lattice(3, 4, seed=3), PREFIX)
    in_order = grids["code"].to_numpy()[spatial_order(grids)]
    assert list(in_order) == sorted(in_order)
    swapped = grids.copy()
    a, b = swapped.index[:2]
    swapped.loc[[a, b], "code"] = swapped.loc[[b, a], "code"].to_numpy()
    in_order = swapped["code"].to_numpy()[spatial_order(swapped)]
    assert list(in_order) != sorted(in_order)


def test_missing_geometry_goes_last():
    grids = gpd.GeoSeries([box(0, 0, 1, 1), None, box(0, 1, 1, 2)], crs=CRS_M)
    assert spatial_order(grids).tolist() == [2, 0, 1]


def test_taller_and_shorter_grids_in_one_row():
    # a 100 m and a 60 m tall grid side by side (tops level) stay one row, west first
    grids = gpd.GeoSeries(
        [box(100, 40, 200, 100), box(0, 0, 100, 100), box(0, -100, 200, 0)], crs=CRS_M
    )
    assert spatial_order(grids).tolist() == [1, 0, 2]


# --- free sequences and explicit renumbering ----------------------------------------------


def test_next_free_fills_hole():
    codes = [make_grid_code(PREFIX, s) for s in (1, 2, 4)]
    assert next_free_sequence(codes, PREFIX) == make_grid_code(PREFIX, 3)
    assert next_free_sequence(codes[:2], PREFIX) == make_grid_code(PREFIX, 3)
    other = ["310109012004003", None, "junk"]  # other community, missing, invalid: ignored
    assert next_free_sequence(codes + other, PREFIX) == make_grid_code(PREFIX, 3)


def test_next_free_when_full():
    codes = [make_grid_code(PREFIX, s) for s in range(1, 1000)]
    with pytest.raises(InputError, match="999"):
        next_free_sequence(codes, PREFIX)


def test_renumber_keeps_existing_codes():
    grids = lattice(3, 4)
    numbered = number_grids(grids, PREFIX)
    # grids 3 and 6 changed: they lose their codes, and two new grids appear
    changed = numbered.copy()
    lost = changed["expected"].isin([3, 6])
    changed.loc[lost, "code"] = [None, ""]
    kept = changed.loc[~lost, "code"].copy()
    out = renumber_keep_existing(changed, PREFIX)
    assert out.loc[~lost, "code"].tolist() == kept.tolist()
    # the freed sequences 3 and 6 go to the new grids in spatial order (3 is further north)
    new_codes = dict(zip(out.loc[lost, "expected"], out.loc[lost, "code"], strict=True))
    assert new_codes == {3: make_grid_code(PREFIX, 3), 6: make_grid_code(PREFIX, 6)}
    assert out["code"].is_unique


def test_renumber_new_grids_after_the_highest():
    grids = number_grids(lattice(1, 3), PREFIX)
    extra = gpd.GeoDataFrame(
        {"code": [None, np.nan]},
        geometry=[box(X0 + 400, Y0 - 100, X0 + 500, Y0), box(X0 + 300, Y0 - 100, X0 + 400, Y0)],
        crs=CRS_M,
    )
    out = renumber_keep_existing(gpd.pd.concat([grids, extra], ignore_index=True), PREFIX)
    assert out["code"].tolist()[:3] == grids["code"].tolist()
    assert out["code"].tolist()[3:] == [make_grid_code(PREFIX, 5), make_grid_code(PREFIX, 4)]


def test_renumber_without_code_column_numbers_all():
    grids = lattice(2, 2)
    out = renumber_keep_existing(grids, PREFIX)
    assert out["code"].str[12:].astype(int).tolist() == grids.expected.tolist()
