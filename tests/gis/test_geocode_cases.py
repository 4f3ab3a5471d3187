"""The labelled address set (tests/gis/geocode_cases.csv) against the demo gazetteer.

Targets (README_geocode_cases.md): door-plate precision >= 0.98 and recall >= 0.9,
no wrong door plate at or above the confidence threshold. The demo gazetteer holds no
building, unit or room entries, so precision at building level is vacuous (None).
"""

from pathlib import Path

import pandas as pd
import pytest

from gis.geocode import CONFIDENCE_THRESHOLD, Gazetteer
from gis.geocode_eval import evaluate

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "gis" / "geocode_cases.csv"
HOUSES = ROOT / "data" / "demo" / "houses.csv"


@pytest.fixture(scope="module")
def report():
    return evaluate(CASES, Gazetteer.from_file(HOUSES))


def test_every_case_is_scored(report):
    assert report["cases"] == len(pd.read_csv(CASES, dtype=str, keep_default_na=False))
    assert report["cases"] >= 300
    assert report["threshold"] == CONFIDENCE_THRESHOLD


def test_doorplate_precision_and_recall_meet_the_targets(report):
    doorplate = report["levels"]["doorplate"]
    assert doorplate["expected"] == 272
    assert doorplate["precision"] >= 0.98
    assert doorplate["recall"] >= 0.9
    assert report["meets_targets"]


def test_no_wrong_door_plate_above_the_threshold(report):
    assert report["wrong_above_threshold"] == []


def test_building_level_is_vacuous_on_a_door_plate_gazetteer(report):
    for level in ("building", "unit", "room"):
        assert report["levels"][level]["reported"] == 0
        assert report["levels"][level]["precision"] is None


def test_road_and_none_cases_are_recalled(report):
    assert report["levels"]["road"]["recall"] >= 0.9
    assert report["levels"]["road"]["precision"] >= 0.98
    assert report["levels"]["none"]["recall"] >= 0.9


def test_interpolation_agrees_with_the_labels(report):
    interp = report["interpolation"]
    assert interp["labelled"] >= 40
    assert interp["agree"] / interp["labelled"] >= 0.95
