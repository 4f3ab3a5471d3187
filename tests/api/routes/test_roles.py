"""The role table: for each main endpoint and each role (and no sign-in), allowed or denied.

Allowed means the documented success status; denied means 403 (401 without a token).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import pytest

from api.db.models import Role
from tests.api.routes.conftest import DEMO_GRIDS, valid_id_number

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
POINT = gpd.read_file(DEMO / "grids.geojson").geometry.iloc[0].representative_point()
_n = itertools.count(301, 2)
# every house a door plate of its own: the shared database is also drawn from by the monthly
# assessment, which refuses two households at one door plate
_plates = itertools.count(1)
ALL = {r.value for r in Role}
ANON = "anonymous"


def _community(api) -> int:
    return api.client.get("/communities", headers=api.as_("admin")).json()["data"][0]["id"]


def _house(api) -> int:
    r = api.client.post(
        "/houses",
        headers=api.as_("admin"),
        json={
            "community_id": _community(api),
            "address": f"角色路 {next(_plates)} 号",
            "lon": POINT.x,
            "lat": POINT.y,
        },
    )
    return r.json()["id"]


def _resident(api) -> int:
    r = api.client.post(
        "/residents",
        headers=api.as_("admin"),
        json={
            "house_id": _house(api),
            "name": "角色测试",
            "population_type": "10",
            "id_number": valid_id_number(next(_n), birth="19900101"),
        },
    )
    return r.json()["id"]


def _pending_request(api) -> int:
    r = api.client.post(
        "/access-requests",
        headers=api.as_("grid_worker"),
        json={"resident_id": _resident(api), "reason": "核查 / check"},
    )
    return r.json()["id"]


# name: (allowed roles, success status, request(api, headers))
ENDPOINTS = {
    "GET /grids": (ALL | {ANON}, 200, lambda api, h: api.client.get("/grids", headers=h)),
    "GET /grids/locate": (
        ALL | {ANON},
        200,
        lambda api, h: api.client.get(
            "/grids/locate", params={"lon": POINT.x, "lat": POINT.y}, headers=h
        ),
    ),
    "POST /divisions/validate": (
        ALL | {ANON},
        200,
        lambda api, h: api.client.post(
            "/divisions/validate",
            headers=h,
            json={
                "grids": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"code": "a"},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
                            },
                        }
                    ],
                },
                "boundary": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
                },
            },
        ),
    ),
    "GET /ogc/collections/grids/items": (
        ALL | {ANON},
        200,
        lambda api, h: api.client.get("/ogc/collections/grids/items", headers=h),
    ),
    "GET /ogc/collections/houses/items": (
        ALL,
        200,
        lambda api, h: api.client.get("/ogc/collections/houses/items", headers=h),
    ),
    "GET /houses": (ALL, 200, lambda api, h: api.client.get("/houses", headers=h)),
    "POST /houses": (
        {"grid_worker", "community_head", "admin"},
        201,
        lambda api, h: api.client.post(
            "/houses",
            headers=h,
            json={
                "community_id": _community(api),
                "address": f"角色路 {next(_plates)} 号",
                "lon": POINT.x,
                "lat": POINT.y,
            },
        ),
    ),
    "GET /residents": (
        {"grid_worker", "post_staff", "community_head", "street_dept", "admin"},
        200,
        lambda api, h: api.client.get("/residents", headers=h),
    ),
    "POST /residents": (
        {"grid_worker", "community_head", "admin"},
        201,
        lambda api, h: api.client.post(
            "/residents",
            headers=h,
            json={
                "house_id": _house(api),
                "name": "甲",
                "population_type": "10",
                "id_number": valid_id_number(next(_n), birth="19910101"),
            },
        ),
    ),
    "POST /access-requests": (
        {"grid_worker", "post_staff", "community_head", "street_dept", "admin"},
        201,
        lambda api, h: api.client.post(
            "/access-requests",
            headers=h,
            json={"grid_code": DEMO_GRIDS[0], "reason": "核查 / check"},
        ),
    ),
    "POST /access-requests/{id}/approve": (
        {"community_head", "street_dept"},  # not the admin: duties separated
        200,
        lambda api, h: api.client.post(
            f"/access-requests/{_pending_request(api)}/approve", headers=h
        ),
    ),
    "GET /audit": ({"auditor"}, 200, lambda api, h: api.client.get("/audit", headers=h)),
    "POST /users": (
        {"admin"},
        201,
        lambda api, h: api.client.post(
            "/users",
            headers=h,
            json={"username": f"u{next(_n)}", "password": "long-enough-1", "role": "planner"},
        ),
    ),
    "GET /users": ({"admin"}, 200, lambda api, h: api.client.get("/users", headers=h)),
    "POST /staff": (
        {"community_head", "admin"},
        201,
        lambda api, h: api.client.post(
            "/staff",
            headers=h,
            json={
                "name": "某某",
                "role": "grid_worker",
                "phone": "13800001111",
                "grid_codes": [DEMO_GRIDS[1]],
            },
        ),
    ),
    "POST /communities": (
        {"planner", "admin"},
        201,
        lambda api, h: api.client.post(
            "/communities",
            headers=h,
            json={"code": f"310101009{next(_n) % 1000:03d}", "name": "新社区"},
        ),
    ),
    "GET /divisions": (
        {"planner", "admin"},
        200,
        lambda api, h: api.client.get("/divisions", headers=h),
    ),
}
CASES = [(name, role) for name in ENDPOINTS for role in [*sorted(ALL), ANON]]


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_role_table(api, endpoint, role):
    allowed, success, call = ENDPOINTS[endpoint]
    headers = {} if role == ANON else api.as_(role)
    r = call(api, headers)
    if role in allowed:
        assert r.status_code == success, r.text
    else:
        expected = 401 if role == ANON else 403
        assert r.status_code == expected, r.text
        assert "detail" in r.json()


def test_the_admin_cannot_hand_himself_another_duty(fresh_db_url, make_api):
    """Separation of duties: the account manager changes others' roles, never his own (he
    could otherwise make himself auditor or approver); the refusal changes nothing."""
    from tests.api.routes.conftest import add_users

    add_users(fresh_db_url, {"root": (Role.ADMIN, []), "ada": (Role.PLANNER, [])})
    api = make_api(fresh_db_url)
    users = {u["username"]: u for u in api.client.get("/users", headers=api.as_("root")).json()[
        "data"]}  # fmt: skip
    for role in ("auditor", "community_head", "street_dept"):
        r = api.client.patch(f"/users/{users['root']['id']}", headers=api.as_("root"),
                             json={"role": role})  # fmt: skip
        assert r.status_code == 403, role
    assert api.client.get("/auth/me", headers=api.as_("root")).json()["role"] == "admin"
    r = api.client.patch(f"/users/{users['ada']['id']}", headers=api.as_("root"),
                         json={"role": "auditor"})  # fmt: skip
    assert r.status_code == 200 and r.json()["role"] == "auditor"
