"""Publication policy: nothing of a non-public incident, and no ID number, phone, resident
name or reporter, on any route reachable without sign-in, nor on the routes a grid worker
of another grid may call; public incidents appear with their description redacted.

The sweep enumerates the app's routes (not the declared policy), fills every path parameter
from the planted data and every query parameter it knows, and searches each answer for the
planted secrets, on SpatiaLite and PostGIS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.db.engine import make_engine, session_factory
from api.db.models import Community, Grid, House, Resident, Role, Staff, from_db_geometry
from api.db.models.opinion import SatisfactionLink
from api.services.crud import create_user
from api.services.incidents.api_keys import create_api_key
from api.services.incidents.publication import MASK, redact
from tests.api.incident_helpers import demo_house, make_app, shared_env, token
from tests.api.routes.conftest import PASSWORD, ManualClock, valid_id_number

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"sensitive-photo-bytes"
RESIDENTS = ("司马青衫", "诸葛月明")
REPORTER = ("慕容", "复")
PHONES = ("13987654321", "13512345678", "021-61234567", "61234567")
SENSITIVE_TEXTS = ("需要上门探访", "本周外出未报告", "张某某", "独居无人照料")


@dataclass
class Planted:
    """What the test planted: incident ids by kind, secrets, sensitive points, ids to fill
    path parameters with."""

    sensitive_ids: list[int]
    public_id: int
    secrets: list[str]
    points: list[tuple[float, float]]
    photo_id: int
    params: dict[str, list]
    other_worker: str


def _plant(env, client) -> Planted:
    engine = make_engine(env.url)
    with session_factory(engine).begin() as session:
        community = session.scalar(sa.select(Community).order_by(Community.id))
        houses = session.scalars(
            sa.select(House).where(House.grid_code == env.grid_codes[0]).order_by(House.id)
        ).all()
        ids = [valid_id_number(900 + i, birth="19460101") for i in range(2)]
        ids[1] = next(  # one ID number ending in X
            valid_id_number(n, birth="19491231")
            for n in range(1, 999)
            if valid_id_number(n, birth="19491231").endswith("X")
        )
        existing = set(session.scalars(sa.select(Resident.id_number)))
        assert not set(ids) & existing
        for name, id_number, phone, house in zip(RESIDENTS, ids, PHONES, houses, strict=False):
            session.add(Resident(house_id=house.id, name=name, id_number=id_number, phone=phone))
        session.flush()
        resident_id = session.scalar(sa.select(Resident.id).where(Resident.name == RESIDENTS[0]))
        other = f"gw_other_{len(env.grid_codes)}"
        if not session.scalar(sa.text("SELECT id FROM users WHERE username = :u"), {"u": other}):
            create_user(
                session,
                username=other,
                password=PASSWORD,
                role=Role.GRID_WORKER,
                grid_codes=[env.grid_codes[-1]],
            )
        key = create_api_key(session, f"publication-{env.grid_codes[-1]}-{id(client)}")
        grid_ids = list(session.scalars(sa.select(Grid.id).order_by(Grid.id).limit(2)))
        staff_ids = list(session.scalars(sa.select(Staff.id).order_by(Staff.id).limit(2)))
        house_ids = [h.id for h in houses[:2]]
        community_code, community_id = community.code, community.id
        home = from_db_geometry(houses[0].geom)
        lon0, lat0 = home.x, home.y
    engine.dispose()

    gw = {"Authorization": f"Bearer {token(client, 'gw')}"}
    points = [(lon0 + 1.3e-5, lat0 + 1.7e-5), (lon0 - 1.9e-5, lat0 + 1.1e-5)]
    reports = [
        ("0507", f"空巢老人需要上门探访，{RESIDENTS[0]}独居无人照料，电话{PHONES[0]}"),
        ("0604", f"社区矫正对象张某某本周外出未报告，身份证{ids[0]}"),
    ]
    sensitive_ids = []
    for (code, text), (lon, lat) in zip(reports, points, strict=True):
        r = client.post(
            "/incidents",
            json={"category_code": code, "description": text, "lon": lon, "lat": lat},
            headers=gw,
        )
        assert r.status_code == 201, r.text
        sensitive_ids.append(r.json()["id"])
    # a public category, its description full of personal data, posted by a named reporter
    public_text = (
        f"楼道垃圾堆放三天，联系人{RESIDENTS[1]} {PHONES[1]}，身份证 {ids[1]}，座机 {PHONES[2]}"
    )
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "0303",
            "lat": str(lat0),
            "long": str(lon0),
            "description": public_text,
            "first_name": REPORTER[0],
            "last_name": REPORTER[1],
        },
    )
    assert r.status_code == 201, r.text
    public_id = int(r.json()[0]["service_request_id"])
    photo = client.post(
        f"/incidents/{sensitive_ids[1]}/photos",
        files={"file": ("p.png", PNG, "image/png")},
        headers=gw,
    )
    assert photo.status_code == 201, photo.text
    # a one-time rating link of the non-public incident (planted in the table: the sweep must
    # find nothing of it on /rate/{token} even though the link is valid)
    rating_token = f"publication-sweep-{sensitive_ids[0]}"
    engine = make_engine(env.url)
    with session_factory(engine).begin() as session:
        session.add(SatisfactionLink(
            incident_id=sensitive_ids[0],
            token_hash=hashlib.sha256(rating_token.encode()).hexdigest(),
        ))  # fmt: skip
    engine.dispose()
    secrets = [*SENSITIVE_TEXTS, *RESIDENTS, *ids, *PHONES, "".join(REPORTER), " ".join(REPORTER)]
    all_ids = [*sensitive_ids, public_id]
    params = {
        "community": [community_code],
        "community_id": [community_id],
        "grid_id": grid_ids,
        "house_id": house_ids,
        "fid": [*grid_ids, *house_ids],
        "resident_id": [resident_id],
        "incident_id": all_ids,
        "request_id": [str(i) for i in all_ids],
        "photo_id": [photo.json()["id"]],
        "code": ["0507", "0604", "0303"],
        "kind": ["houses", "residents", "staff"],
        "staff_id": staff_ids,
        "collection_id": ["grids", "houses"],
        "worker": ["gw", other],
        "user_id": [1],
        "version": [1],
        # Open311 tokens are request ids; rating tokens are one-time links
        "token": [str(i) for i in [*sensitive_ids, public_id]] + ["not-a-token", rating_token],
        "survey_id": [1],
        "entry_id": [1],
        "rest": ["v2/requests/unknown.json"],
        "z": [16],
        "x": [54_883],  # the z16 tile at the centre of the demo community
        "y": [26_777],
    }
    return Planted(sensitive_ids, public_id, secrets, points, photo.json()["id"], params, other)


# query parameters: required ones get the first value; a second call fills every known one
QUERY = {
    "community": lambda p: p.params["community"][0],
    "lon": lambda p: demo_house(5)[1],
    "lat": lambda p: demo_house(5)[2],
    "address": lambda p: demo_house(0)[0],
    "q": lambda p: demo_house(0)[0],
    "service_code": lambda p: "0507,0604,0303",
    "service_request_id": lambda p: ",".join(map(str, [*p.sensitive_ids, p.public_id])),
    "category": lambda p: "0604",
    "category_code": lambda p: "0604",
    "grid_code": lambda p: p.params["community"][0] + "001",
    "staff": lambda p: "true",
    "status": lambda p: "open,closed",
    "by": lambda p: "grid,category",
    "month": lambda p: "2026-12",
    "worker": lambda p: "gw",
}
STYLES = ("heatmap", "choropleth", "hotspots")
_NUMBER = re.compile(r"-?\d{2,3}\.\d{4,}")


def _calls(app, planted: Planted, methods: set[str]):
    """(method, url, query) for every route of ``app`` with a method in ``methods``."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in sorted((context.methods or set()) & methods):
            names = [p.name for p in route.dependant.path_params]
            missing = [n for n in names if n not in planted.params]
            assert not missing, f"no planted value for {missing} of {context.path}"
            for values in itertools.product(*(planted.params[n] for n in names)):
                url = context.path
                for name, value in zip(names, values, strict=True):
                    url = url.replace("{" + name + "}", str(value))
                queries = route.dependant.query_params
                required = {q.alias: QUERY[q.alias](planted) for q in queries
                            if q.field_info.is_required() and q.alias in QUERY}  # fmt: skip
                known = {q.alias: QUERY[q.alias](planted) for q in queries if q.alias in QUERY}
                variants = [required, known] if known != required else [required]
                if any(q.alias == "style" for q in queries):
                    variants = [{**v, "style": s} for v in variants for s in STYLES]
                for query in variants:
                    yield method, url, query


def _leaks(body: bytes, planted: Planted) -> list[str]:
    found = [s for s in planted.secrets if s.encode() in body]
    if PNG in body:
        found.append("photo of a non-public incident")
    numbers = [float(x) for x in _NUMBER.findall(body.decode("utf-8", "replace"))]
    for lon, lat in planted.points:
        if any(abs(n - lon) < 2e-6 for n in numbers) and any(abs(n - lat) < 2e-6 for n in numbers):
            found.append(f"point ({lon}, {lat})")
    return found


SESSION_ENDING = {"/auth/logout"}


def _sweep(client, planted: Planted, methods: set[str], headers: dict) -> tuple[int, int]:
    """Call every route; return (calls, calls answered 200). Fails on any leak."""
    calls = ok = 0
    problems = []
    for method, url, query in _calls(client.app, planted, methods):
        if url in SESSION_ENDING:  # would revoke the sweeping user's own token mid-sweep
            continue
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        r = client.request(method, url, params=query, json=body, headers=headers)
        calls += 1
        ok += r.status_code == 200
        assert r.status_code < 500, (method, url, query, r.text[:300])
        leaks = _leaks(r.content, planted)
        if leaks:
            problems.append((method, url, query, r.status_code, leaks))
    assert not problems, problems
    return calls, ok


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory, request):
    return shared_env(db_url, tmp_path_factory, request)


@pytest.fixture(scope="module")
def web(env, tmp_path_factory):
    app = make_app(env.url, ManualClock(dt.datetime.now(dt.UTC)))
    app.state.photo_dir = tmp_path_factory.mktemp("photos")
    with TestClient(app) as client:
        yield client, _plant(env, client)


def test_public_routes_show_nothing_sensitive(web):
    client, planted = web
    calls, ok = _sweep(client, planted, {"GET", "POST", "PUT", "PATCH", "DELETE"}, {})
    assert calls > 100 and ok > 30
    # the public incident is there, redacted: category, status, dates, location
    listed = client.get("/open311/v2/requests.json", params={"service_code": "0303"}).json()
    mine = [x for x in listed if x["service_request_id"] == str(planted.public_id)]
    assert len(mine) == 1
    item = mine[0]
    assert item["description"].startswith("楼道垃圾堆放三天，联系人***")
    assert item["description"].count(MASK) == 4
    assert item["status"] == "open" and item["requested_datetime"] and item["lat"] and item["long"]
    for sid in planted.sensitive_ids:
        assert client.get(f"/open311/v2/requests/{sid}.json").status_code == 404
    photo = client.get(f"/incidents/{planted.sensitive_ids[1]}/photos/{planted.photo_id}")
    assert photo.status_code == 404


def test_grid_worker_of_another_grid_sees_nothing_sensitive(web):
    client, planted = web
    headers = {"Authorization": f"Bearer {token(client, planted.other_worker)}"}
    calls, ok = _sweep(client, planted, {"GET", "POST", "PATCH"}, headers)
    assert calls > 100 and ok > 30
    for sid in planted.sensitive_ids:
        assert client.get(f"/incidents/{sid}", headers=headers).status_code == 404
        step = client.post(
            f"/incidents/{sid}/transitions", json={"action": "feed_back"}, headers=headers
        )
        assert step.status_code in (403, 404)


def test_the_grid_workers_own_grid_and_managers_see_in_full(web, env):
    """The sweep is not blind: those who handle the items read them whole."""
    client, planted = web
    for user in ("gw", "head", "boss"):
        headers = {"Authorization": f"Bearer {token(client, user)}"}
        item = client.get(f"/incidents/{planted.sensitive_ids[1]}", headers=headers).json()
        assert "本周外出未报告" in item["description"] and item["history"]
    # the city-management post handles the public item (in full), not the social-affairs one
    headers = {"Authorization": f"Bearer {token(client, 'post_cj')}"}
    assert client.get(f"/incidents/{planted.sensitive_ids[0]}", headers=headers).status_code == 404
    theirs = client.get(f"/incidents/{planted.public_id}", headers=headers).json()
    assert RESIDENTS[1] in theirs["description"] and theirs["handler_post"] == "城建管理岗"


# --------------------------------------------------------------------------- redaction

_DIGIT_FREE = st.text(
    alphabet=st.characters(whitelist_categories=("Lo",), max_codepoint=0x9FFF), max_size=12
)


def _id_number(serial: int, birth: dt.date) -> str:
    return valid_id_number(serial, birth=birth.strftime("%Y%m%d"))


@settings(max_examples=200, deadline=None)
@given(
    before=_DIGIT_FREE,
    after=_DIGIT_FREE,
    serial=st.integers(0, 999),
    birth=st.dates(dt.date(1920, 1, 1), dt.date(2020, 12, 31)),
    mobile=st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    sep=st.sampled_from(["", "-", " "]),
    area=st.from_regex(r"0\d{2,3}", fullmatch=True),
    local=st.from_regex(r"[2-9]\d{6,7}", fullmatch=True),
    name=st.sampled_from(RESIDENTS),
)
def test_redact_removes_every_identifier(before, after, serial, birth, mobile, sep, area, local,
                                         name):  # fmt: skip
    id_number = _id_number(serial, birth)
    spaced = f"{mobile[:3]}{sep}{mobile[3:7]}{sep}{mobile[7:]}"
    text = f"{before}，{name}，{id_number}；{spaced}；{area}{sep}{local}；{local}。{after}"
    out = redact(text, RESIDENTS)
    for secret in (id_number, mobile, spaced, local, name):
        assert secret not in out
    assert not re.search(r"\d{7,}", out.replace(MASK, "")), out
    assert out.startswith(before) and out.endswith(after)


def test_redact_keeps_ordinary_text():
    text = "2号楼东侧井盖缺失，约3米宽，2026-10-01发现"
    assert redact(text, RESIDENTS) == text
