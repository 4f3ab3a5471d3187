"""Precision and recall of the geocoder on a labelled address set.

The set's format and the definitions are those of ``tests/gis/README_geocode_cases.md``:

* a result is *reported at level L* when its level is L or finer (room > unit > building >
  doorplate > lane > road > none) **and** its score is at least the threshold;
* it is *correct* at doorplate level or finer when it returns the expected door plate, at lane
  level when the case expects that lane (its door plate ``X路N弄``), at road level when it
  returns the expected road;
* precision at L = correct results reported at ≥ L / results reported at ≥ L (a door plate
  reported for a ``must_not_match`` row is wrong);
* recall at L = cases matched correctly at their expected level or finer / cases expecting L
  or finer; a ``none`` case is recalled when nothing is reported at lane or finer, a road
  case when its road is reported and no door plate or lane;
* any wrong door plate (or lane) reported at or above the threshold is listed in
  ``wrong_above_threshold``;
* ``variants`` gives precision and recall per written form (the ``variant=`` of each case's
  note) and ``overall`` over every case.

Precision or recall with nothing to count is None (the demo gazetteer has no building, unit or
room entries, so precision at building level is vacuous there).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from gis.errors import MissingFieldError
from gis.geocode import CONFIDENCE_THRESHOLD, MATCH_LEVELS, Gazetteer

__all__ = ["TARGETS", "evaluate"]

TARGETS = {
    "doorplate_precision": 0.98,
    "doorplate_recall": 0.9,
    "wrong_above_threshold": 0,
    "overall_precision": 0.99,
    "overall_recall": 0.95,
}
"""The targets: door plates (precision ≥ 0.98, recall ≥ 0.9, no wrong one above the
threshold) and every answer (``overall``: precision ≥ 0.99 of what is reported at road level
or finer, recall ≥ 0.95 of all cases)."""

_RANK = {level: rank for rank, level in enumerate(reversed(MATCH_LEVELS))}  # none=0 … room=5
_DOORPLATE = _RANK["doorplate"]
_VARIANT = re.compile(r"variant=([\w-]+)")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def evaluate(
    cases_csv: str | Path,
    gazetteer: Gazetteer,
    *,
    threshold: float = CONFIDENCE_THRESHOLD,
    id_column: str = "house_id",
) -> dict:
    """Geocode every case of ``cases_csv`` and return precision/recall by level.

    ``gazetteer.frame[id_column]`` identifies door plates (the set's ``expected_house_id``).
    Returns a dict: ``threshold``, ``cases``, ``levels`` (per level: ``reported``,
    ``correct``, ``precision``, ``expected``, ``recalled``, ``recall``),
    ``interpolation`` (road cases whose note says ``interpolated=true|false``: how many the
    geocoder agreed with), ``wrong_above_threshold`` (case ids with what was returned),
    ``misses`` (cases not recalled), ``targets`` and ``meets_targets``.
    """
    cases = pd.read_csv(cases_csv, dtype=str, keep_default_na=False, encoding="utf-8")
    if id_column not in gazetteer.frame.columns:
        raise MissingFieldError(f"the gazetteer has no {id_column!r} column")
    address_of = dict(
        zip(
            gazetteer.frame[id_column].astype(str),
            gazetteer.frame[gazetteer.address_column],
            strict=True,
        )
    )
    rows = []
    for case in cases.itertuples(index=False):
        result = gazetteer.geocode(case.input)
        rank = _RANK[result.match_level] if result.score >= threshold else 0
        if rank >= _RANK["lane"]:
            # a lane answer is right only for a case that expects that lane
            expected_here = (
                ("doorplate", "building", "unit", "room") if rank >= _DOORPLATE else ("lane",)
            )
            correct = (
                case.expected_level in expected_here
                and result.matched_address == address_of.get(case.expected_house_id)
            )
        elif rank == _RANK["road"]:
            correct = result.road == case.expected_road and case.expected_road != ""
        else:
            correct = False
        expected_rank = _RANK[case.expected_level]
        if case.expected_level == "none":
            recalled = rank < _RANK["lane"]
        else:
            recalled = correct and rank >= expected_rank
            if case.expected_level == "road":
                recalled = recalled and rank < _RANK["lane"]
        variant = _VARIANT.search(case.note)
        rows.append(
            {
                "case_id": case.case_id,
                "variant": variant.group(1) if variant else "",
                "input": case.input,
                "expected_level": case.expected_level,
                "rank": rank,
                "expected_rank": expected_rank,
                "correct": correct,
                "recalled": recalled,
                "wrong_doorplate": rank >= _RANK["lane"] and not correct,
                "note": case.note,
                "level": result.match_level,
                "score": result.score,
                "interpolated": result.interpolated,
                "returned": result.matched_address,
            }
        )
    table = pd.DataFrame(rows)
    levels = {}
    for level in MATCH_LEVELS:
        at_least = table["rank"] >= _RANK[level]
        expected = table["expected_rank"] >= _RANK[level]
        reported, correct = int(at_least.sum()), int((at_least & table["correct"]).sum())
        if level == "none":  # everything is reported at ≥ none: precision means nothing
            reported = correct = 0
        n_expected = int(expected.sum())
        n_recalled = int((expected & table["recalled"]).sum())
        levels[level] = {
            "reported": reported,
            "correct": correct,
            "precision": _ratio(correct, reported),
            "expected": n_expected,
            "recalled": n_recalled,
            "recall": _ratio(n_recalled, n_expected),
        }
    by_variant = {}
    for variant, group in table.groupby("variant", sort=True):
        at_least = group["rank"] >= _RANK["lane"]
        reported = int(at_least.sum())
        by_variant[variant] = {
            "cases": len(group),
            "expected_level": ",".join(sorted(set(group["expected_level"]))),
            "reported": reported,
            "correct": int((at_least & group["correct"]).sum()),
            "precision": _ratio(int((at_least & group["correct"]).sum()), reported),
            "recalled": int(group["recalled"].sum()),
            "recall": _ratio(int(group["recalled"].sum()), len(group)),
        }
    flagged = table[table["note"].str.contains("interpolated=")]
    said_true = flagged["note"].str.contains("interpolated=true")
    agree = int((flagged["interpolated"] == said_true).sum())
    wrong = table[table["wrong_doorplate"]]
    misses = table[~table["recalled"]]
    report = {
        "threshold": threshold,
        "cases": len(table),
        "levels": levels,
        "variants": by_variant,
        "overall": {
            "reported": int((table["rank"] >= _RANK["road"]).sum()),
            "correct": int(((table["rank"] >= _RANK["road"]) & table["correct"]).sum()),
            "precision": _ratio(
                int(((table["rank"] >= _RANK["road"]) & table["correct"]).sum()),
                int((table["rank"] >= _RANK["road"]).sum()),
            ),
            "recalled": int(table["recalled"].sum()),
            "recall": _ratio(int(table["recalled"].sum()), len(table)),
        },
        "interpolation": {"labelled": len(flagged), "agree": agree},
        "wrong_above_threshold": wrong[["case_id", "input", "level", "returned"]].to_dict(
            "records"
        ),
        "misses": misses[["case_id", "input", "expected_level", "level", "returned"]].to_dict(
            "records"
        ),
        "targets": dict(TARGETS),
    }
    doorplate = levels["doorplate"]
    overall = report["overall"]
    report["meets_targets"] = bool(
        (doorplate["precision"] or 0) >= TARGETS["doorplate_precision"]
        and (doorplate["recall"] or 0) >= TARGETS["doorplate_recall"]
        and len(wrong) == TARGETS["wrong_above_threshold"]
        and (overall["precision"] or 0) >= TARGETS["overall_precision"]
        and (overall["recall"] or 0) >= TARGETS["overall_recall"]
    )
    return report
