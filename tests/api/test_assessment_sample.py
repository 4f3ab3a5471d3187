"""The monthly draw of sample points: reproducible, recorded, independent of row order."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services.assessment import derive_seed, draw_sample
from gis.errors import InputError


def households(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "house_key": [f"H{i:04d}" for i in range(n)],
            "address": [f"九江路{i + 1}号" for i in range(n)],
        }
    )


def test_seed_is_sha256_of_community_and_month() -> None:
    digest = hashlib.sha256("九江社区|2024-05".encode()).digest()
    assert derive_seed("九江社区", "2024-05") == int.from_bytes(digest[:8], "big") // 2


def test_same_community_and_month_give_the_same_sample() -> None:
    frame = households(120)
    a = draw_sample(frame, community="九江社区", month="2024-05")
    b = draw_sample(frame, community="九江社区", month="2024-05")
    assert a.household_ids == b.household_ids
    assert a.seed == derive_seed("九江社区", "2024-05") and a.seed_derived
    assert len(a.household_ids) == len(set(a.household_ids)) == 10
    assert set(a.household_ids) <= set(frame["house_key"])
    assert a.households["draw_order"].tolist() == list(range(1, 11))
    assert a.households["house_key"].tolist() == list(a.household_ids)
    assert a.note == ""
    other_month = draw_sample(frame, community="九江社区", month="2024-06")
    other_community = draw_sample(frame, community="汉口社区", month="2024-05")
    assert other_month.household_ids != a.household_ids
    assert other_community.household_ids != a.household_ids


def test_recorded_seed_redraws_the_sample_from_shuffled_rows() -> None:
    frame = households(57)
    a = draw_sample(frame, community="九江社区", month="2024-05")
    shuffled = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    b = draw_sample(shuffled, community="九江社区", month="2024-05", seed=a.seed)
    assert b.household_ids == a.household_ids and not b.seed_derived
    # the documented algorithm, done by hand: sort the ids, default_rng(seed).choice
    ids = sorted(frame["house_key"])
    positions = np.random.default_rng(a.seed).choice(len(ids), size=10, replace=False)
    assert a.household_ids == tuple(ids[p] for p in positions)


@settings(max_examples=50, deadline=None)
@given(n_households=st.integers(1, 40), n=st.integers(1, 15), seed=st.integers(0, 2**63 - 1))
def test_sample_size_and_membership(n_households: int, n: int, seed: int) -> None:
    frame = households(n_households)
    sample = draw_sample(frame, community="c", month="2024-01", n=n, seed=seed)
    assert len(sample.household_ids) == min(n, n_households)
    assert len(set(sample.household_ids)) == len(sample.household_ids)
    assert set(sample.household_ids) <= set(frame["house_key"])
    assert sample.seed == seed
    assert (sample.note != "") == (n_households < n)


def test_fewer_households_than_the_sample_takes_all_with_a_note() -> None:
    sample = draw_sample(households(4).iloc[::-1], community="小社区", month="2024-05")
    assert sample.household_ids == ("H0000", "H0001", "H0002", "H0003")
    assert "4" in sample.note and "fewer than 10" in sample.note
    assert sample.to_dict()["n_available"] == 4


def test_door_plate_identifies_a_household_without_key() -> None:
    frame = households(12)
    frame.loc[[0, 5], "house_key"] = None
    sample = draw_sample(frame, community="c", month="2024-05", n=12)
    assert {"九江路1号", "九江路6号"} <= set(sample.household_ids)


def test_bad_input_is_refused() -> None:
    frame = households(5)
    with pytest.raises(InputError, match="YYYY-MM"):
        draw_sample(frame, community="c", month="2024-13")
    with pytest.raises(InputError, match="twice"):
        draw_sample(pd.concat([frame, frame.head(1)]), community="c", month="2024-05")
    with pytest.raises(InputError, match="neither"):
        draw_sample(pd.DataFrame({"house_key": ["a", None]}), community="c", month="2024-05")
    with pytest.raises(InputError, match="positive"):
        draw_sample(frame, community="c", month="2024-05", n=0)
    with pytest.raises(InputError, match="seed"):
        draw_sample(frame, community="c", month="2024-05", seed=-1)
