"""Open311 GeoReport v2 under ``/open311/v2/`` (JSON), on the same incidents.

- ``GET services.json``: one service per category of the taxonomy (table
  ``incident_categories``); ``keywords`` is the severity (``major`` or ``general``), ``group``
  the top-level category's name, ``metadata`` false, ``type`` realtime;
- ``GET services/{code}.json``: the service definition (no extra attributes);
- ``GET requests.json``: filters ``service_request_id`` (comma list; overrides the others),
  ``service_code`` (comma list), ``start_date``/``end_date`` (on ``requested_datetime``,
  W3C times; without an offset Asia/Shanghai), ``status`` (``open``/``closed``, comma list);
  without dates, the 1000 most recent requests (the spec's "SHOULD" of the last 90 days would
  hide stored histories);
- ``POST requests.json``: form-encoded (as the spec) or JSON; ``api_key`` and
  ``service_code`` required; ``lat``/``long`` (WGS84) or ``address_string``; ``description``,
  ``first_name``/``last_name``, ``media_url`` optional; answers
  ``[{"service_request_id", "service_notice", "account_id"}]``;
- ``GET requests/{id}.json``: one request, as a one-element array.

A request's ``status`` is ``open``/``closed`` (:func:`api.incidents.workflow.open311_status`),
``status_notes`` the last note or rejection reason, ``agency_responsible`` the handling post,
``expected_datetime`` the deadline, ``lat``/``long`` WGS84 (CGCS2000 storage is taken as
WGS84: they differ by centimetres). Errors are the spec's array ``[{"code", "description"}]``
with the HTTP status (400 bad input, 403 bad or missing API key, 404 unknown).

Only incidents of public categories are ever listed or read (a request of another category
is 404, as if it did not exist), with description, address and notes redacted
(:mod:`api.services.publication`); reporters never appear.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.db.models import Incident
from api.db.models_incidents import IncidentCategory, IncidentEvent, IncidentPhoto
from api.deps import SessionDep
from api.errors import ApiError
from api.incidents.deadlines import SHANGHAI, to_shanghai
from api.incidents.workflow import OPEN311_STATUS, open311_status
from api.services import incidents as svc
from api.services.locate import to_storage_lonlat
from api.services.publication import PublicText, is_public, public_incidents
from gis.errors import WanggeError

__all__ = ["MAX_REQUESTS", "router"]

router = APIRouter(prefix="/open311/v2", tags=["open311"])
MAX_REQUESTS = 1000


class Open311Error(Exception):
    """An error answered as the spec's array."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def _errors(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def _guarded(func):
    """Run ``func``; turn wangge and API errors into the Open311 error array."""
    try:
        return func()
    except Open311Error as exc:
        return _errors(exc.code, exc.description)
    except ApiError as exc:
        code = exc.status_code if exc.status_code in (403, 404) else 400
        return _errors(code, exc.detail)
    except (WanggeError, ValueError) as exc:
        code = getattr(exc, "status_code", 400)
        return _errors(code if code in (403, 404, 409) else 400, str(exc))


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(SHANGHAI).isoformat()


def _groups(session: Session) -> dict[str, IncidentCategory]:
    return {c.code: c for c in svc.list_categories(session) if not c.parent}


def _service(category: IncidentCategory, groups: dict[str, IncidentCategory]) -> dict[str, Any]:
    top = groups.get(category.parent or category.code)
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": " / ".join(
            x for x in (category.name_en, category.post, category.gbt_class) if x
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": category.severity,
        "group": top.name_zh if top is not None else category.name_zh,
    }


@router.get("/services.json")
def services(session: SessionDep):
    """服务列表 / GeoReport v2 service list (the incident categories)."""

    def run():
        groups = _groups(session)
        return [_service(c, groups) for c in svc.list_categories(session)]

    return _guarded(run)


@router.get("/services/{code}.json")
def service_definition(code: str, session: SessionDep):
    """服务定义 / GeoReport v2 service definition (no extra attributes)."""

    def run():
        if session.get(IncidentCategory, code) is None:
            raise Open311Error(404, f"未知服务 {code!r} / unknown service_code {code!r}")
        return {"service_code": code, "attributes": []}

    return _guarded(run)


def _last_notes(session: Session, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = session.execute(
        sa.select(IncidentEvent.incident_id, IncidentEvent.note, IncidentEvent.reason)
        .where(IncidentEvent.incident_id.in_(ids))
        .order_by(IncidentEvent.incident_id, IncidentEvent.seq)
    )
    out: dict[int, str | None] = {}
    for incident_id, note, reason in rows:
        out[incident_id] = reason or note or out.get(incident_id)
    return out


def _media(session: Session, request: Request, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    out: dict[int, str] = {}
    for photo in session.scalars(
        sa.select(IncidentPhoto)
        .where(IncidentPhoto.incident_id.in_(ids))
        .order_by(IncidentPhoto.id.desc())
    ):
        out[photo.incident_id] = str(
            request.url_for("read_photo", incident_id=photo.incident_id, photo_id=photo.id)
        )
    return out


def _requests(session: Session, request: Request, rows: list[Incident]) -> list[dict[str, Any]]:
    from api.db.models import from_db_geometry

    categories = {c.code: c for c in svc.list_categories(session)}
    ids = [r.id for r in rows]
    notes, media = _last_notes(session, ids), _media(session, request, ids)
    text = PublicText(session)  # the public sees redacted texts only
    out = []
    for r in rows:
        point = from_db_geometry(r.geom)
        category = categories.get(r.category_code)
        out.append(
            {
                "service_request_id": str(r.id),
                "status": open311_status(r.state),
                "status_notes": text(r, notes.get(r.id)),
                "service_name": category.name_zh if category else None,
                "service_code": r.category_code,
                "description": text(r, r.description),
                "agency_responsible": r.handler_post,
                "service_notice": None,
                "requested_datetime": _iso(r.reported_at),
                "updated_datetime": _iso(r.updated_at),
                "expected_datetime": _iso(r.due_at),
                "address": text(r, r.address),
                "address_id": None,
                "zipcode": None,
                "lat": None if point is None else point.y,
                "long": None if point is None else point.x,
                "media_url": media.get(r.id),
            }
        )
    return out


def _time(name: str, value: str) -> dt.datetime:
    try:
        return to_shanghai(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except (WanggeError, ValueError) as exc:
        raise Open311Error(400, f"{name} 不是 W3C 时间 / {name} is not a W3C datetime") from exc


@router.get("/requests.json")
def list_requests(
    request: Request,
    session: SessionDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
):
    """服务请求查询 / GeoReport v2 service requests, filtered."""

    def run():
        query = public_incidents()
        if service_request_id:
            try:
                ids = [int(x) for x in service_request_id.split(",") if x.strip()]
            except ValueError as exc:
                raise Open311Error(
                    400, "service_request_id 应为整数列表 / must be integers, comma separated"
                ) from exc
            query = query.where(Incident.id.in_(ids))
        else:
            if service_code:
                query = query.where(
                    Incident.category_code.in_([c.strip() for c in service_code.split(",")])
                )
            if start_date:
                query = query.where(Incident.reported_at >= _time("start_date", start_date))
            if end_date:
                query = query.where(Incident.reported_at <= _time("end_date", end_date))
            if status:
                wanted = {s.strip() for s in status.split(",") if s.strip()}
                if not wanted <= {"open", "closed"}:
                    raise Open311Error(
                        400, f"status 应为 open 或 closed / status must be open or closed: {status}"
                    )
                states = [s for s, o in OPEN311_STATUS.items() if o in wanted]
                query = query.where(Incident.state.in_(states))
        rows = list(
            session.scalars(
                query.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(MAX_REQUESTS)
            )
        )
        return _requests(session, request, rows)

    return _guarded(run)


@router.get("/requests/{request_id}.json")
def read_request(request_id: str, request: Request, session: SessionDep):
    """单个服务请求 / One GeoReport v2 service request (a one-element array)."""

    def run():
        found = session.get(Incident, int(request_id)) if request_id.isdigit() else None
        if found is None or not is_public(session, found):
            raise Open311Error(
                404, f"服务请求 {request_id} 不存在 / service request {request_id} not found"
            )
        return _requests(session, request, [found])

    return _guarded(run)


async def _params(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise Open311Error(400, "JSON 格式错误 / malformed JSON") from exc
        if not isinstance(body, dict):
            raise Open311Error(400, "JSON 须为对象 / JSON body must be an object")
        params = {k: "" if v is None else str(v) for k, v in body.items()}
    else:
        form = await request.form()
        params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    for key, value in request.query_params.items():
        params.setdefault(key, value)
    return {k: v.strip() for k, v in params.items()}


def _float(params: dict[str, str], name: str) -> float | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} 不是数字 / {name} is not a number: {value!r}") from exc


@router.post("/requests.json")
async def create_request(request: Request, session: SessionDep):
    """提交服务请求 / Create a GeoReport v2 service request (form or JSON; api_key needed)."""
    try:
        params = await _params(request)
    except Open311Error as exc:
        return _errors(exc.code, exc.description)

    def run():
        key = svc.find_api_key(session, params.get("api_key"))
        if key is None:
            raise Open311Error(
                403,
                "缺少或无效的 api_key / api_key missing or invalid"
                if params.get("api_key")
                else "缺少 api_key / api_key is required",
            )
        code = params.get("service_code")
        if not code:
            raise Open311Error(400, "缺少 service_code / service_code is required")
        if session.get(IncidentCategory, code) is None:
            raise Open311Error(404, f"未知服务 {code!r} / unknown service_code {code!r}")
        lat, lon = _float(params, "lat"), _float(params, "long")
        address = params.get("address_string") or None
        if (lat is None or lon is None) and not address:
            raise Open311Error(
                400, "须给出 lat/long 或 address_string / give lat and long, or address_string"
            )
        if lat is not None and lon is not None:
            lon, lat = to_storage_lonlat(lon, lat, "wgs84")
        else:
            lon = lat = None
        name = " ".join(x for x in (params.get("first_name"), params.get("last_name")) if x)
        incident = svc.report_incident(
            session,
            category_code=code,
            actor=svc.Actor(role="open311", username=f"open311:{key.name}"),
            description=params.get("description") or None,
            lon=lon,
            lat=lat,
            address=address,
            reporter_name=name or None,
            note=params.get("media_url") or None,
        )
        session.commit()
        notice = (
            f"已受理，网格 {incident.grid_code}，办理时限 {_iso(incident.due_at)} / accepted, "
            f"grid {incident.grid_code}, due {_iso(incident.due_at)}"
        )
        return JSONResponse(
            [
                {
                    "service_request_id": str(incident.id),
                    "service_notice": notice,
                    "account_id": None,
                }
            ],
            status_code=201,
        )

    return _guarded(run)
