"""The auth table (docs/auth.md): every route has a row, every row holds for anonymous and
each role; SQL injection strings are data; path traversal finds nothing.

Gate checks use ids that do not exist and empty bodies: a caller the gate lets through gets
404/422 (anything but 401/403), one it stops gets 401 (no token) or 403 (wrong role). The
finer rules behind the gate (own grids, masking until an approved access request, token
expiry, slowed sign-ins) have their own tests in tests/api/routes/ (test_residents.py,
test_auth.py). Auth does not depend on the engine: these run on SpatiaLite only.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth_table import ANONYMOUS, API_KEY, CALLERS, POLICY, app_routes, render
from api.services.demo import load_demo
from tests.api.routes.conftest import ROLE_USERS, Api, ManualClock, add_users

DOCS = Path(__file__).resolve().parents[2] / "docs" / "auth.md"
MISSING_ID = "987654"


@pytest.fixture(scope="module")
def app_api(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'auth.db'}"
    load_demo(db_url=url)
    add_users(url, ROLE_USERS)


    clock = ManualClock(dt.datetime.now(dt.UTC))
    app = create_app(
        url,
        secret_key="auth-table-secret-0123456789abcdef012345",
        clock=clock,
    )
    with TestClient(app) as client:
        yield Api(client=client, url=url, clock=clock)


def test_every_route_has_a_row_and_every_row_a_route(app_api):
    routes = set(app_routes(app_api.client.app))
    assert routes - POLICY.keys() == set(), "routes without a row in api/auth_table.POLICY"
    assert POLICY.keys() - routes == set(), "rows of api/auth_table.POLICY without a route"


def test_docs_table_is_generated_from_the_policy(app_api):
    assert DOCS.read_text(encoding="utf-8") == render(app_api.client.app), (
        "docs/auth.md is stale: python -m api.auth_table > docs/auth.md"
    )


def _path(template: str, caller: str) -> str:
    values = {"collection_id": "grids", "worker": caller, "community": "no-such-community"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), MISSING_ID), template)


ROWS = sorted(POLICY)


@pytest.mark.parametrize(("method", "path"), ROWS, ids=[f"{m} {p}" for m, p in ROWS])
def test_row(app_api, method, path):
    access = POLICY[(method, path)]
    seen = {}
    for caller in CALLERS:
        headers = {} if caller == ANONYMOUS else app_api.as_(caller)
        if path == "/auth/logout" and caller != ANONYMOUS:  # a token of its own to revoke
            token = app_api.login(caller).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = app_api.client.request(method, _path(path, caller), headers=headers, **body)
        seen[caller] = r.status_code
        assert r.status_code < 500, (caller, r.text)
    for caller, status in seen.items():
        if access.who == API_KEY:
            assert status == 403, (caller, seen)
        elif access.allows(caller):
            assert status not in (401, 403), (caller, seen)
        else:
            assert status == (401 if caller == ANONYMOUS else 403), (caller, seen)


def test_public_collection_rows_still_guard_houses(app_api):
    r = app_api.client.get("/ogc/collections/houses/items")
    assert r.status_code == 401
    r = app_api.client.get("/ogc/collections/houses/items", headers=app_api.as_("planner"))
    assert r.status_code == 200


# --------------------------------------------------------------------------- injection

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "x' UNION SELECT username, password_hash FROM users --",
    "%' OR 1=1 --",
    '"; DELETE FROM houses; --',
    "\\'; SELECT pg_sleep(0); --",
]


def _counts(api: Api) -> dict[str, int]:
    return api.count("users", "houses", "communities", "residents")


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_in_query_params_is_data(app_api, payload):
    before = _counts(app_api)
    admin = app_api.as_("admin")
    checks = [
        ("/houses", {"grid_code": payload}, admin),
        ("/grids", {"community_id": payload}, {}),
        ("/geocode", {"q": payload}, {}),
        ("/maps/division/" + payload, None, {}),
        ("/open311/v2/requests.json", {"service_code": payload, "status": payload}, {}),
        ("/audit", {"action": payload}, app_api.as_("auditor")),
        ("/incidents", {"status": payload}, admin),
        ("/access-requests", {"status": payload}, admin),
    ]
    for url, params, headers in checks:
        r = app_api.client.get(url, params=params, headers=headers)
        assert r.status_code < 500, (url, r.text)
        if r.status_code == 200 and "houses" in url:
            assert r.json()["features"] == []  # matched literally: no grid has that code
    r = app_api.client.post("/auth/token", data={"username": payload, "password": payload})
    assert r.status_code == 401
    assert _counts(app_api) == before


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_in_json_fields_is_stored_as_text(app_api, payload):
    admin = app_api.as_("admin")
    community = app_api.client.get("/communities", headers=admin).json()["data"][0]["id"]
    before = _counts(app_api)
    r = app_api.client.post(
        "/houses",
        headers=admin,
        json={"community_id": community, "address": payload, "owner": payload},
    )
    assert r.status_code == 201, r.text
    house = r.json()
    stored = app_api.client.get(f"/houses/{house['id']}", headers=admin).json()
    assert stored["properties"]["address"] == payload  # the very string, as data
    assert _counts(app_api) == before | {"houses": before["houses"] + 1}
    r = app_api.client.post(
        "/users",
        headers=admin,
        json={"username": payload[:60], "password": "long-enough-1", "role": payload},
    )
    assert r.status_code == 422  # an unknown role, said so; nothing run
    assert app_api.client.delete(f"/houses/{house['id']}", headers=admin).status_code == 204
    assert _counts(app_api) == before


# --------------------------------------------------------------------------- path traversal

TRAVERSALS = [
    "/static/../api/config.py",
    "/static/..%2f..%2fapi%2fconfig.py",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%5c..%5capi%5cconfig.py",
    "/static/vendor/../../../../etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/maps/division/..%2f..%2fetc%2fpasswd",
    "/planner/..%2f..%2fetc%2fpasswd",
    "/incidents/1/photos/..%2f..%2fetc%2fpasswd",
    "/open311/v2/services/..%2f..%2fetc%2fpasswd.json",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_path_traversal_finds_nothing(app_api, url):
    r = app_api.client.get(url, headers=app_api.as_("admin"))
    assert r.status_code in (400, 404, 422), (url, r.status_code)
    assert "root:" not in r.text and "get_settings" not in r.text


def test_static_files_are_served_only_from_the_static_folder(app_api):
    # a real asset answers, so the 404s above are not a broken mount
    from maps.assets import STATIC_DIR

    asset = next(p for p in Path(STATIC_DIR).rglob("*.js"))
    rel = asset.relative_to(STATIC_DIR).as_posix()
    assert app_api.client.get(f"/static/{rel}").status_code == 200
