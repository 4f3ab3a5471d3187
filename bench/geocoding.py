"""Batch geocoding: wangge against a Chinese address parser (cpca), same addresses, same run.

The addresses are the real labelled set (``data/geocode_real/cases.csv``: real OSM door plates
written in the forms people write), drawn with replacement (seeded) and made distinct by a
room number after each door plate (``…12号1503室``), so that no cache answers a repeat. The
peer a user would reach for is `cpca` (Chinese province/city/area recognition, on PyPI), used
for parsing only: it has no door-plate gazetteer, so it is scored on what both do, splitting the
place names from the street (the remainder must start with the true road), and timed on the same
list. wangge is timed end to end (``geocode_table`` on a DataFrame: parse, match, result columns)
and scored on the door plate it returns.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

__all__ = ["CASES", "GAZETTEER", "addresses"]

ROOT = Path(__file__).resolve().parents[1]
GAZETTEER = ROOT / "data" / "geocode_real" / "door_plates.csv"
CASES = ROOT / "data" / "geocode_real" / "cases.csv"


def addresses(n: int, *, seed: int = 20261207) -> list[dict]:
    """``n`` addresses with their truth: dicts of input, expected_level, house id, road."""
    with open(CASES, encoding="utf-8") as f:
        cases = [c for c in csv.DictReader(f) if c["expected_level"] in ("doorplate", "lane")]
    rng = random.Random(seed)
    out = []
    for k in range(n):
        case = rng.choice(cases)
        text = case["input"]
        if re.search(r"号$", text):  # a room keeps the door plate and makes the text unique
            text += f"{100 * rng.randint(1, 30) + rng.randint(1, 8) + k % 7 * 10}室"
        out.append({**case, "input": text})
    return out
