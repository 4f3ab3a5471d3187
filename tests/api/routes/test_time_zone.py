"""One time zone rule, on SpatiaLite and PostGIS: every time the API answers, and every time
in an XLSX export, is Asia/Shanghai with its offset (+08:00) — incidents, history, work logs,
access requests, the audit log, Open311, OGC — while the database holds UTC."""

from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa
from openpyxl import load_workbook

from api.db.engine import make_engine, session_factory
from api.db.models import Community, Incident
from api.services.registry.exporter import XLSX_HEADERS, export_layer
from tests.api.incident_helpers import demo_house
from tests.api.routes.conftest import DEMO_GRIDS

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _times(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(0), m.group(1)) for m in ISO_TIME.finditer(text)]


def test_every_time_the_api_answers_is_shanghai_with_offset(api, tmp_path):
    client = api.client
    # a work log entry given in UTC comes back in Shanghai time, the same instant
    r = client.post(
        "/patrol/work-log",
        json={"kind": "visited", "at": "2026-10-01T02:00:00Z", "note": "入户走访"},
        headers=api.as_("grid_worker"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["at"] == "2026-10-01T10:00:00+08:00"
    # an access request, approved: requested/approved/expires times
    made = client.post(
        "/access-requests",
        json={"grid_code": DEMO_GRIDS[0], "reason": "核查时区"},
        headers=api.as_("grid_worker"),
    )
    assert made.status_code == 201, made.text
    approved = client.post(
        f"/access-requests/{made.json()['id']}/approve",
        json={"valid_hours": 2},
        headers=api.as_("community_head"),
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    for key in ("requested_at", "approved_at", "expires_at"):
        assert body[key].endswith("+08:00"), (key, body[key])
    gap = dt.datetime.fromisoformat(body["expires_at"]) - dt.datetime.fromisoformat(
        body["approved_at"]
    )
    assert gap == dt.timedelta(hours=2)
    # an incident
    _, lon, lat, _ = demo_house(2)
    incident = client.post(
        "/incidents",
        json={"category_code": "0303", "lon": lon, "lat": lat, "reported_at": "2026-10-02T01:30Z"},
        headers=api.as_("grid_worker"),
    )
    assert incident.status_code == 201, incident.text
    iid = incident.json()["id"]
    assert incident.json()["reported_at"] == "2026-10-02T09:30:00+08:00"

    admin = api.as_("admin")
    urls = [
        "/access-requests",
        "/incidents?limit=50",
        f"/incidents/{iid}",
        f"/incidents/{iid}/history",
        "/incidents/inbox",
        "/patrol/workers/grid_worker?start=2026-09-28&end=2026-10-04",
        "/open311/v2/requests.json",
        "/ogc/collections/grids/items",
        "/routing",
        "/users",
    ]
    seen = 0
    # the audit log is the auditor's alone (separation of duties)
    for url, headers in [("/audit?limit=200", api.as_("auditor")), *((u, admin) for u in urls)]:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.text[:200])
        times = [(t, z) for t, z in _times(r.text) if "T" in t]
        seen += len(times)
        wrong = [t for t, zone in times if zone not in ("+08:00",)]
        assert not wrong, (url, wrong[:5])
    assert seen > 50

    # stored as UTC: the raw column holds the UTC instant
    engine = make_engine(api.url)
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT reported_at FROM incidents WHERE id = :i"), {"i": iid})
        stored = raw.scalar_one()
    engine.dispose()
    stored = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(stored)
    as_utc = stored.astimezone(dt.UTC) if stored.tzinfo else stored.replace(tzinfo=dt.UTC)
    assert as_utc == dt.datetime(2026, 10, 2, 1, 30, tzinfo=dt.UTC)
    assert (stored.utcoffset() or dt.timedelta(0)) == dt.timedelta(0)


def test_xlsx_export_times_are_shanghai_with_offset(api, tmp_path):
    engine = make_engine(api.url)
    with session_factory(engine)() as session:
        result = export_layer(session, "incidents", tmp_path / "i.xlsx", community="310101002005")
        stored = list(
            session.scalars(
                sa.select(Incident.reported_at)
                .join(Community, Community.id == Incident.community_id)
                .where(Community.code == "310101002005")
                .order_by(Incident.id)
            )
        )
    engine.dispose()
    sheet = load_workbook(result.path).active
    header = [c.value for c in sheet[1]]
    at = header.index(XLSX_HEADERS["incidents"]["reported_at"])
    values = [row[at] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(values) == len(stored) > 100
    for value, utc in zip(values, stored, strict=True):
        assert isinstance(value, str) and value.endswith("+08:00"), value
        assert dt.datetime.fromisoformat(value) == utc and utc.utcoffset() == dt.timedelta(0)


def test_json_dump_of_an_audit_row_has_the_offset(api):
    r = api.client.get("/audit?limit=5", headers=api.as_("auditor"))
    rows = r.json()["data"]
    assert rows and all(dt.datetime.fromisoformat(x["at"]).utcoffset() == dt.timedelta(hours=8)
                        for x in rows)  # fmt: skip
    json.dumps(rows)
