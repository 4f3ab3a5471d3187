"""OGC API – Features Part 1 on SpatiaLite and PostGIS: ``datetime`` against the divisions'
effective dates, a real ``extent``, the OpenAPI 3.0 definition the conformance page claims,
OGC exceptions for bad parameters and unknown items, configurable CORS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from api.app import create_app
from api.db.engine import make_engine, session_factory
from api.services.demo import load_demo
from api.services.divisions import load_division
from tests.api.routes.conftest import PASSWORD, ROLE_USERS, _module_database, add_users

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_START = dt.date(2026, 1, 1)  # the demo division's effective_from
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"


@pytest.fixture(scope="module")
def two_versions(db_url, tmp_path_factory):
    """The demo, plus a second division of its community in effect from next New Year's Day
    (the demo's then ends that day). Yields (client, the division periods by version)."""
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    load_demo(db_url=url)
    add_users(url, ROLE_USERS)
    next_year = dt.date(dt.date.today().year + 1, 1, 1)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        result = load_division(
            session,
            grids=gpd.read_file(DEMO / "grids.geojson"),
            boundary=gpd.read_file(DEMO / "boundary.geojson"),
            community="外滩源社区",
            effective_date=next_year,
        )
        assert result["stored"], result
    engine.dispose()
    periods = {1: (DEMO_START, next_year), 2: (next_year, None)}
    app = create_app(url, secret_key="ogc-conformance-0123456789abcdef01234567")
    with TestClient(app) as client:
        yield client, periods
    next(gen, None)


def _versions(client, **params) -> list[int]:
    r = client.get("/ogc/collections/grids/items", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"])
    return sorted(f["properties"]["division_version"] for f in page["features"])


def _expected(periods, first: dt.date | None, last: dt.date | None, per_division: int) -> list:
    """Versions in effect on some day of [first, last]: effective_from <= day < effective_to."""
    out = []
    for version, (start, end) in sorted(periods.items()):
        if (last is None or start <= last) and (first is None or end is None or end > first):
            out += [version] * per_division
    return sorted(out)


def test_datetime_selects_divisions_by_their_effective_dates(two_versions):
    client, periods = two_versions
    per = len(gpd.read_file(DEMO / "grids.geojson"))
    next_year = periods[2][0]
    assert _versions(client) == [1] * per  # without datetime: today's division, as before
    assert _versions(client, datetime="2025-06-01T12:00:00Z") == []  # before the demo started
    assert _versions(client, datetime=f"{next_year.year - 1}-12-31T15:59:59Z") == [1] * per
    # 16:00 UTC on New Year's Eve is midnight in Shanghai: the new division
    assert _versions(client, datetime=f"{next_year.year - 1}-12-31T16:00:00Z") == [2] * per
    assert _versions(client, datetime=f"{next_year.isoformat()}/..") == [2] * per
    assert _versions(client, datetime="../2025-12-31T23:59:59+08:00") == []
    assert _versions(client, datetime="2025-01-01/..") == [1] * per + [2] * per
    # a division effective next year is not returned for last year
    assert 2 not in _versions(client, datetime=f"{next_year.year - 2}-06-01")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 12, 31)),
    length=st.none() | st.timedeltas(dt.timedelta(0), dt.timedelta(days=900)),
    offset_h=st.integers(-12, 14),
    open_end=st.sampled_from(["", "start", "end"]),
)
def test_datetime_agrees_with_the_effective_dates(two_versions, start, length, offset_h, open_end):
    client, periods = two_versions
    zone = dt.timezone(dt.timedelta(hours=offset_h))
    a = start.replace(tzinfo=zone)
    day = lambda t: t.astimezone(SHANGHAI).date()  # noqa: E731 - division dates are local
    if length is None:
        text, first, last = a.isoformat(), day(a), day(a)
    else:
        b = a + length
        first, last = day(a), day(b)
        if open_end == "start":
            text, first = f"../{b.isoformat()}", None
        elif open_end == "end":
            text, last = f"{a.isoformat()}/..", None
        else:
            text = f"{a.isoformat()}/{b.isoformat()}"
    assert _versions(client, datetime=text) == _expected(periods, first, last, 12)


def test_extent_is_the_data_and_the_effective_dates(two_versions):
    client, _ = two_versions
    grids = client.get("/ogc/collections/grids").json()["extent"]
    want = gpd.read_file(DEMO / "grids.geojson").to_crs(4326).total_bounds
    assert grids["spatial"]["bbox"][0] == pytest.approx(list(want), abs=1e-9)
    assert grids["temporal"]["interval"] == [["2026-01-01T00:00:00+08:00", None]]
    houses_csv = pd.read_csv(DEMO / "houses.csv")
    admin = {"Authorization": f"Bearer {_token(client, 'admin')}"}
    houses = client.get("/ogc/collections/houses", headers=admin).json()["extent"]
    assert houses["spatial"]["bbox"][0] == pytest.approx(
        [houses_csv.lon.min(), houses_csv.lat.min(), houses_csv.lon.max(), houses_csv.lat.max()],
        abs=1e-9,
    )
    assert "temporal" not in houses  # houses carry no time
    listed = client.get("/ogc/collections", headers=admin).json()["collections"]
    assert {c["id"]: c["extent"] for c in listed} == {"grids": grids, "houses": houses}


def _token(client, username: str) -> str:
    r = client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_openapi_30_definition_as_the_conformance_page_claims(two_versions):
    client, _ = two_versions
    assert OAS30 in client.get("/ogc/conformance").json()["conformsTo"]
    links = {link["rel"]: link for link in client.get("/ogc/").json()["links"]}
    desc = links["service-desc"]
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    anonymous = client.get(desc["href"]).json()
    assert anonymous["openapi"].startswith("3.0.")
    validate_openapi(anonymous)  # raises unless a valid OpenAPI 3.0 document
    assert "/collections/houses/items" not in anonymous["paths"]
    items = anonymous["paths"]["/collections/grids/items"]["get"]["parameters"]
    params = anonymous["components"]["parameters"]
    names = {params[p["$ref"].rsplit("/", 1)[1]]["name"] for p in items}
    assert {"bbox", "datetime", "limit"} <= names
    assert params["datetime"]["schema"] == {"type": "string"}
    signed = client.get(
        desc["href"], headers={"Authorization": f"Bearer {_token(client, 'street_dept')}"}
    ).json()
    validate_openapi(signed)
    assert "/collections/houses/items" in signed["paths"]
    # the application's own document stays OpenAPI 3.1, and is not the OGC service-desc
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_bad_parameters_are_400_and_unknown_items_404(two_versions):
    client, _ = two_versions
    url = "/ogc/collections/grids/items"
    for params, named in (
        ({"limit": "unlimited"}, "limit"),
        ({"limit": "-3"}, "limit"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "121.5,31.3,121.4,31.2"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"datetime": "2026-05-01/2026-04-01"}, "datetime"),
        ({"dateTime": "2026-01-01"}, "dateTime"),  # names are case-sensitive
        ({"f": "xml"}, "f"),
    ):
        r = client.get(url, params=params)
        assert r.status_code == 400, (params, r.text)
        body = r.json()
        assert body["code"] == "InvalidParameterValue" and named in body["description"]
    for path in ("/ogc/conformance", "/ogc/collections", "/ogc/collections/grids"):
        assert client.get(path, params={"ooga": "booga"}).status_code == 400
    for fid in ("abc", "99999999", "1e3", "9" * 30, "²", "١٢"):
        r = client.get(f"{url}/{fid}")
        assert r.status_code == 404 and r.json()["code"] == "NotFound", fid
    # a grid of a division not in effect today is still one feature of the collection
    later = client.get(url, params={"datetime": f"{dt.date.today().year + 1}-06-01"}).json()
    fid = later["features"][0]["id"]
    assert client.get(f"{url}/{fid}").json()["properties"]["division_version"] == 2
    six = client.get(url, params={"bbox": "121.48,31.22,0,121.49,31.23,50", "limit": 1000})
    four = client.get(url, params={"bbox": "121.48,31.22,121.49,31.23", "limit": 1000})
    assert six.json()["numberMatched"] == four.json()["numberMatched"] > 0
    box = shapely.box(121.48, 31.22, 121.49, 31.23)
    for f in four.json()["features"]:
        assert shapely.geometry.shape(f["geometry"]).intersects(box)


def test_houses_take_datetime_without_filtering_and_limit_is_capped(two_versions):
    client, _ = two_versions
    admin = {"Authorization": f"Bearer {_token(client, 'admin')}"}
    url = "/ogc/collections/houses/items"
    everything = client.get(url, params={"limit": 5000}, headers=admin).json()
    assert everything["numberReturned"] == min(everything["numberMatched"], 1000)
    long_ago = client.get(url, params={"limit": 5000, "datetime": "1990-01-01"}, headers=admin)
    assert long_ago.json()["numberMatched"] == everything["numberMatched"]  # houses carry no time
    assert client.get(url, params={"datetime": "not-a-time"}, headers=admin).status_code == 400


def test_cors_origins_come_from_the_setting(tmp_path, monkeypatch):
    from api.core.config import get_settings

    monkeypatch.setenv("WANGGE_CORS_ORIGINS", "https://a.example.org, https://b.example.org")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(f"sqlite:///{tmp_path / 'env.db'}")) as client:
            for origin in ("https://a.example.org", "https://b.example.org"):
                r = client.get("/ogc/conformance", headers={"Origin": origin})
                assert r.headers["access-control-allow-origin"] == origin
    finally:
        get_settings.cache_clear()


def test_cors_is_off_by_default_and_configurable(tmp_path):
    url = f"sqlite:///{tmp_path / 'cors.db'}"
    origin = "https://maps.example.org"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(url)) as client:
        r = client.get("/ogc/conformance", headers={"Origin": origin})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        assert (
            "access-control-allow-origin"
            not in client.options("/ogc/collections", headers=preflight).headers
        )
    with TestClient(create_app(url, cors_origins=[origin])) as client:
        r = client.get("/ogc/conformance", headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
        r = client.options("/ogc/collections", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        other = client.get("/ogc/conformance", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _mercator(xy: np.ndarray) -> np.ndarray:
    """Web Mercator by its closed form (EPSG:3857 on the WGS84 semi-major axis)."""
    r = 6378137.0
    lon, lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
    return np.column_stack([r * lon, r * np.log(np.tan(np.pi / 4 + lat / 2))])


def _swap(xy: np.ndarray) -> np.ndarray:
    return xy[:, ::-1]


def _coords(feature: dict) -> np.ndarray:
    return shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))


def test_geometry_comes_in_the_crs_asked_for(two_versions):
    client, _ = two_versions
    url = "/ogc/collections/grids/items"
    plain = client.get(url, params={"limit": 3})
    assert plain.headers["content-crs"] == f"<{CRS84}>"
    meta = client.get("/ogc/collections/grids").json()
    assert meta["crs"][0] == CRS84 and {f"{EPSG}4326", f"{EPSG}3857"} <= set(meta["crs"])
    assert meta["storageCrs"] in meta["crs"]
    for crs, expect, tolerance in (
        (f"{EPSG}4326", _swap, 1e-12),  # latitude first
        (f"{EPSG}4490", _swap, 1e-12),  # CGCS2000: within centimetres of WGS84, taken as equal
        (f"{EPSG}3857", _mercator, 1e-6),
    ):
        got = client.get(url, params={"limit": 3, "crs": crs})
        assert got.status_code == 200 and got.headers["content-crs"] == f"<{crs}>"
        for want, have in zip(plain.json()["features"], got.json()["features"], strict=True):
            assert have["id"] == want["id"]
            assert np.allclose(_coords(have), expect(_coords(want)), rtol=0, atol=tolerance)
        fid = plain.json()["features"][0]["id"]
        one = client.get(f"{url}/{fid}", params={"crs": crs})
        assert one.headers["content-crs"] == f"<{crs}>"
        assert np.allclose(
            _coords(one.json()), expect(_coords(plain.json()["features"][0])), atol=tolerance
        )
    for bad in ("EPSG:4326", f"{EPSG}32651", "nonsense"):
        r = client.get(url, params={"crs": bad})
        assert r.status_code == 400 and "crs" in r.json()["description"]


def test_bbox_in_another_crs_selects_the_same_features(two_versions):
    client, _ = two_versions
    url = "/ogc/collections/grids/items"
    box = np.array([[121.482, 31.225], [121.489, 31.232]])
    lonlat = ",".join(repr(float(v)) for v in box.ravel())
    want = client.get(url, params={"bbox": lonlat, "limit": 1000}).json()
    ids = {f["id"] for f in want["features"]}
    everything = client.get(url, params={"limit": 1000}).json()["numberMatched"]
    assert 0 < len(ids) < everything
    latlon = ",".join(repr(float(v)) for v in _swap(box).ravel())
    metres = ",".join(repr(float(v)) for v in _mercator(box).ravel())
    for crs, text in ((f"{EPSG}4326", latlon), (f"{EPSG}4490", latlon), (f"{EPSG}3857", metres)):
        got = client.get(url, params={"bbox": text, "bbox-crs": crs, "limit": 1000}).json()
        assert {f["id"] for f in got["features"]} == ids, crs
    r = client.get(url, params={"bbox": lonlat, "bbox-crs": "EPSG:3857"})
    assert r.status_code == 400 and "bbox-crs" in r.json()["description"]
