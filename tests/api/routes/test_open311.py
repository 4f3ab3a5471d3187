"""Open311 GeoReport v2 on SpatiaLite and PostGIS: services from the migrated taxonomy, a
plain form POST with an API key, JSON POST, error arrays, status mapping, filters, and an
existing client (the PyPI ``georeport`` package) reading from a real server."""

from __future__ import annotations

import csv
import datetime as dt
import json

import georeport
import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.api.incident_helpers import (
    DATA,
    demo_house,
    token,
)

CATEGORIES = DATA.parent / "codes" / "incident_categories.csv"


@pytest.fixture(scope="module")
def env(incident_env):
    return incident_env


@pytest.fixture(scope="module")
def server(incident_server):
    return incident_server


@pytest.fixture(scope="module")
def api_key(env):
    result = CliRunner().invoke(cli_app, ["open311", "key", "create", "test-app", "--db", env.url])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _categories() -> list[dict[str, str]]:
    with CATEGORIES.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_services_come_from_the_taxonomy(server):
    services = httpx.get(f"{server.base}/open311/v2/services.json").json()
    rows = _categories()
    assert [s["service_code"] for s in services] == sorted(r["code"] for r in rows)
    names = {r["code"]: r["name_zh"] for r in rows}
    by_code = {s["service_code"]: s for s in services}
    for r in rows:
        s = by_code[r["code"]]
        assert s["keywords"] == r["severity"] in ("major", "general")
        assert s["group"] == names[r["parent"] or r["code"]]
        assert s["service_name"] == r["name_zh"] and s["metadata"] is False
    assert by_code["0301"]["keywords"] == "major" and by_code["0301"]["group"] == names["03"]
    d = httpx.get(f"{server.base}/open311/v2/services/0303.json")
    assert d.status_code == 200 and d.json()["service_code"] == "0303"
    missing = httpx.get(f"{server.base}/open311/v2/services/9999.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and missing.json()[0]["description"]


def test_plain_form_post_reports_and_reads_back(server, api_key, env):
    _, lon, lat, grid = demo_house(30)
    form = {
        "api_key": api_key,
        "service_code": "0303",
        "lat": str(lat),
        "long": str(lon),
        "description": "垃圾堆放三天",
        "first_name": "张",
        "last_name": "三",
    }
    r = httpx.post(f"{server.base}/open311/v2/requests.json", data=form)  # form-urlencoded
    assert r.status_code == 201, r.text
    answer = r.json()
    assert isinstance(answer, list) and set(answer[0]) == {
        "service_request_id",
        "service_notice",
        "account_id",
    }
    rid = answer[0]["service_request_id"]
    got = httpx.get(f"{server.base}/open311/v2/requests/{rid}.json").json()
    assert len(got) == 1
    req = got[0]
    assert req["status"] == "open" and req["service_code"] == "0303"
    assert req["agency_responsible"] == "城建管理岗"
    assert abs(req["lat"] - lat) < 1e-9 and abs(req["long"] - lon) < 1e-9
    requested = dt.datetime.fromisoformat(req["requested_datetime"])
    expected = dt.datetime.fromisoformat(req["expected_datetime"])
    assert expected > requested and expected.time() == dt.time(23, 59, 59)
    assert req["description"] == "垃圾堆放三天"
    # the same item through the incidents API: its grid from the spatial join
    with httpx.Client(base_url=server.base) as client:
        auth = {"Authorization": f"Bearer {token(client, 'boss')}"}
        item = client.get(f"/incidents/{rid}", headers=auth).json()
        assert item["grid_code"] == grid and item["history"][0]["username"] == "open311:test-app"
        # status mapping: resolved counts as closed
        for action in ("feed_back", "start", "resolve"):
            r = client.post(
                f"/incidents/{rid}/transitions",
                json={"action": action, "note": f"{action} done"},
                headers=auth,
            )
            assert r.status_code == 200
    req = httpx.get(f"{server.base}/open311/v2/requests/{rid}.json").json()[0]
    assert req["status"] == "closed" and req["status_notes"] == "resolve done"
    closed = httpx.get(
        f"{server.base}/open311/v2/requests.json", params={"status": "closed"}
    ).json()
    opened = httpx.get(f"{server.base}/open311/v2/requests.json", params={"status": "open"}).json()
    assert rid in {x["service_request_id"] for x in closed}
    assert rid not in {x["service_request_id"] for x in opened}
    assert {x["status"] for x in closed} == {"closed"} and {x["status"] for x in opened} == {"open"}


def test_json_post_by_address_and_errors(server, api_key):
    address, lon, lat, _ = demo_house(31)
    url = f"{server.base}/open311/v2/requests.json"
    r = httpx.post(
        url, json={"api_key": api_key, "service_code": "0605", "address_string": address}
    )
    assert r.status_code == 201, r.text
    bad = [
        ({"service_code": "0303", "lat": lat, "long": lon}, 403),  # no key
        ({"api_key": "nope", "service_code": "0303", "lat": lat, "long": lon}, 403),
        ({"api_key": api_key, "lat": lat, "long": lon}, 400),  # no service_code
        ({"api_key": api_key, "service_code": "9999", "lat": lat, "long": lon}, 404),
        ({"api_key": api_key, "service_code": "0303"}, 400),  # no location
        ({"api_key": api_key, "service_code": "0303", "lat": "x", "long": lon}, 400),
        ({"api_key": api_key, "service_code": "0303", "lat": 31.0, "long": 121.3}, 400),
    ]
    for form, code in bad:
        r = httpx.post(url, data={k: str(v) for k, v in form.items()})
        assert r.status_code == code, (form, r.text)
        body = r.json()
        assert isinstance(body, list) and body[0]["code"] == code and body[0]["description"]
    outside = httpx.post(
        url, data={"api_key": api_key, "service_code": "0303", "lat": "31.0", "long": "121.3"}
    ).json()
    assert "outside every grid" in outside[0]["description"]
    r = httpx.get(f"{server.base}/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = httpx.get(f"{server.base}/open311/v2/requests/999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_filters_by_code_and_dates(server):
    url = f"{server.base}/open311/v2/requests.json"
    window = {"start_date": "2026-08-01T00:00:00+08:00", "end_date": "2026-08-31T23:59:59+08:00"}
    rows = httpx.get(url, params={**window, "service_code": "0301,0607"}).json()
    assert rows and {r["service_code"] for r in rows} <= {"0301", "0607"}
    for r in rows:
        t = dt.datetime.fromisoformat(r["requested_datetime"])
        assert dt.datetime.fromisoformat(window["start_date"]) <= t
        assert t <= dt.datetime.fromisoformat(window["end_date"])
    ids = ",".join(r["service_request_id"] for r in rows[:3])
    picked = httpx.get(url, params={"service_request_id": ids, "service_code": "0101"}).json()
    assert [p["service_request_id"] for p in picked] == [r["service_request_id"] for r in rows[:3]]


def test_an_existing_client_can_read(server, api_key):
    client = georeport.GeoReport(f"{server.base}/open311/v2", api_key=api_key)
    services = client.get_service_list()
    assert {s["service_code"] for s in services} >= {"0301", "0303", "0607"}
    definition = client.get_service_definition("0303")
    assert definition["service_code"] == "0303"
    requests_ = client.get_service_requests(service_code="0303", status="open,closed")
    assert requests_ and all(r["service_code"] == "0303" for r in requests_)
    one = client.get_service_request(requests_[0]["service_request_id"])
    assert one["service_request_id"] == requests_[0]["service_request_id"]
    assert json.dumps(one, ensure_ascii=False)  # plain JSON types only
