"""WANGGE_TOLERANCE_M reaches a validation through the API that names no tolerance."""

from __future__ import annotations

import json

from api.core.config import get_settings
from gis.coverage import validate
from tests.common import planted_cases


def _kinds_of(collection: dict) -> list[str]:
    return sorted(f["properties"]["kind"] for f in collection["features"])


def test_api_validate_without_tolerance_uses_the_setting(api, monkeypatch):
    case = planted_cases()["gap_0.3m"]
    grids = case.grids.to_crs(4326)
    boundary = case.boundary.to_crs(4326)
    body = {
        "grids": json.loads(grids.to_json()),
        "boundary": json.loads(boundary.to_json())["features"][0],
    }
    wide = sorted(validate(grids, boundary, tolerance_m=0.5)["kind"])
    narrow = sorted(validate(grids, boundary, tolerance_m=0.2)["kind"])
    assert wide != narrow  # the 0.3 m notch: a sliver under 0.5 m, a gap under 0.2 m
    try:
        answer = api.client.post("/divisions/validate", json=body)
        assert answer.status_code == 200, answer.text
        assert _kinds_of(answer.json()) == wide
        monkeypatch.setenv("WANGGE_TOLERANCE_M", "0.2")
        get_settings.cache_clear()
        answer = api.client.post("/divisions/validate", json=body)
        assert _kinds_of(answer.json()) == narrow
        explicit = api.client.post("/divisions/validate", json=body | {"tolerance_m": 0.5})
        assert _kinds_of(explicit.json()) == wide
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
