"""Open311 GeoReport v2 as data: services, service definitions, requests, tokens, discovery.

Every function here returns plain dicts and lists (the JSON shape of the spec); turning them
into JSON or XML is :mod:`api.services.incidents.open311_format`'s job, and the routes
(:mod:`api.routes.open311`) only join the two. Errors are the API's own
(:class:`~api.core.errors.BadRequest`, :class:`~api.core.errors.NotFound`,
:class:`~api.core.errors.Forbidden`); the routes answer them as the spec's ``errors`` list.

Which incidents a caller may see is decided in one place each: :func:`request_query` (lists)
and :func:`find_request` (one request, a token); the dict of a request
(:func:`request_dicts`) never carries the reporter's personal details, which are stored in
``open311_submissions`` for the staff only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import BadRequest, Forbidden, NotFound
from api.core.timefmt import local_iso
from api.db.models import Incident, from_db_geometry
from api.db.models.incidents import (
    IncidentCategory,
    IncidentEvent,
    IncidentPhoto,
    Open311Submission,
)
from api.services.incidents.api_keys import find_api_key
from api.services.incidents.categories import list_categories
from api.services.incidents.deadlines import to_shanghai
from api.services.incidents.people import Actor
from api.services.incidents.publication import PublicText, is_public, public_incidents
from api.services.incidents.report import report_incident
from api.services.incidents.views import routing_warnings
from api.services.incidents.workflow import OPEN311_STATUS, open311_status
from api.services.locate import to_storage_lonlat
from gis.errors import WanggeError

__all__ = [
    "DISCOVERY_CHANGESET",
    "MAX_REQUESTS",
    "SPECIFICATION",
    "RequestFilter",
    "create_request",
    "discovery",
    "find_request",
    "request_dicts",
    "request_query",
    "service_definition",
    "services",
    "token_dicts",
]

MAX_REQUESTS = 1000
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
DISCOVERY_CHANGESET = "2026-12-07T00:00:00+08:00"
"""When this server's Open311 interface last changed (formats, endpoints, fields)."""

# longest values accepted from a client (the spec's 4000 characters for a description)
_LIMITS = {
    "description": 4000,
    "account_id": 64,
    "email": 254,
    "first_name": 64,
    "last_name": 64,
    "phone": 32,
    "device_id": 128,
    "media_url": 2048,
    "address_string": 500,
}
_PHONE = re.compile(r"^\+?[0-9 ()\-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --------------------------------------------------------------------------- services


def services(session: Session) -> list[dict[str, Any]]:
    """One service per incident category: ``keywords`` the severity, ``group`` the top
    category's name, ``metadata`` false (no extra attributes), ``type`` realtime."""
    categories = list_categories(session)
    groups = {c.code: c for c in categories if not c.parent}
    out = []
    for category in categories:
        top = groups.get(category.parent or category.code)
        out.append(
            {
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
        )
    return out


def _unknown_service(code: str) -> NotFound:
    return NotFound(f"未知服务 {code!r} / unknown service_code {code!r}")


def service_definition(session: Session, code: str) -> dict[str, Any]:
    """The definition of service ``code``: no extra attributes (404 for an unknown code)."""
    if session.get(IncidentCategory, code) is None:
        raise _unknown_service(code)
    return {"service_code": code, "attributes": []}


# --------------------------------------------------------------------------- requests


def _time(name: str, value: str) -> dt.datetime:
    try:
        return to_shanghai(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except (WanggeError, ValueError) as exc:
        raise BadRequest(f"{name} 不是 W3C 时间 / {name} is not a W3C datetime") from exc


@dataclass(frozen=True)
class RequestFilter:
    """The filters of ``GET requests``, parsed and checked (400 naming the bad one).

    ``ids`` (``service_request_id``, a comma list) overrides the others; ``codes``
    (``service_code``), ``start``/``end`` (on ``requested_datetime``; W3C times, without an
    offset Asia/Shanghai), ``statuses`` (``open``/``closed``).
    """

    ids: tuple[int, ...] = ()
    codes: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> RequestFilter:
        """Read the query parameters of ``GET requests``."""
        ids_text = params.get("service_request_id") or ""
        if ids_text.strip():
            parts = [x.strip() for x in ids_text.split(",") if x.strip()]
            if not all(x.isascii() and x.isdigit() and len(x) < 19 for x in parts):
                raise BadRequest(
                    "service_request_id 应为整数列表 / must be integers, comma separated"
                )
            return cls(ids=tuple(int(x) for x in parts))
        codes = tuple(c.strip() for c in (params.get("service_code") or "").split(",") if c.strip())
        status = params.get("status") or ""
        statuses = frozenset(s.strip() for s in status.split(",") if s.strip())
        if not statuses <= {"open", "closed"}:
            raise BadRequest(
                f"status 应为 open 或 closed / status must be open or closed: {status}"
            )
        start, end = params.get("start_date"), params.get("end_date")
        return cls(
            codes=codes,
            start=_time("start_date", start) if start else None,
            end=_time("end_date", end) if end else None,
            statuses=statuses,
        )


def request_query(wanted: RequestFilter) -> sa.Select:
    """SQL of the incidents ``GET requests`` answers: the filters, newest first, at most
    :data:`MAX_REQUESTS` (without dates: the most recent ones, not the spec's "SHOULD" of
    the last 90 days, which would hide stored histories). Public categories only."""
    query = public_incidents()
    if wanted.ids:
        query = query.where(Incident.id.in_(wanted.ids))
    else:
        if wanted.codes:
            query = query.where(Incident.category_code.in_(wanted.codes))
        if wanted.start is not None:
            query = query.where(Incident.reported_at >= wanted.start)
        if wanted.end is not None:
            query = query.where(Incident.reported_at <= wanted.end)
        if wanted.statuses:
            states = [s for s, o in OPEN311_STATUS.items() if o in wanted.statuses]
            query = query.where(Incident.state.in_(states))
    return query.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(MAX_REQUESTS)


def find_request(session: Session, request_id: str) -> Incident:
    """The incident of service request ``request_id`` (404 if there is none, and for one of
    a category that is not public: to the public it does not exist)."""
    plain = request_id.isascii() and request_id.isdigit() and len(request_id) < 19
    found = session.get(Incident, int(request_id)) if plain else None
    if found is None or not is_public(session, found):
        raise NotFound(f"服务请求 {request_id} 不存在 / service request {request_id} not found")
    return found


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


def _media(session: Session, ids: list[int], photo_url: Callable[[int, int], str]) -> dict:
    """``media_url`` per incident: the URL the reporter sent, else the newest photo's."""
    if not ids:
        return {}
    out: dict[int, str] = {}
    for photo in session.scalars(
        sa.select(IncidentPhoto)
        .where(IncidentPhoto.incident_id.in_(ids))
        .order_by(IncidentPhoto.id.desc())
    ):
        out.setdefault(photo.incident_id, photo_url(photo.incident_id, photo.id))
    for incident_id, url in session.execute(
        sa.select(Open311Submission.incident_id, Open311Submission.media_url).where(
            Open311Submission.incident_id.in_(ids), Open311Submission.media_url.is_not(None)
        )
    ):
        out[incident_id] = url
    return out


def request_dicts(
    session: Session, rows: list[Incident], *, photo_url: Callable[[int, int], str]
) -> list[dict[str, Any]]:
    """The spec's request objects of ``rows`` (in order); ``photo_url(incident_id,
    photo_id)`` is the public address of a stored photo. Texts redacted
    (:class:`api.services.incidents.publication.PublicText`); no reporter details."""
    categories = {c.code: c for c in list_categories(session)}
    ids = [r.id for r in rows]
    notes, media = _last_notes(session, ids), _media(session, ids, photo_url)
    text = PublicText(session)
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
                "requested_datetime": local_iso(r.reported_at),
                "updated_datetime": local_iso(r.updated_at),
                "expected_datetime": local_iso(r.due_at),
                "address": text(r, r.address),
                "address_id": None,
                "zipcode": None,
                "lat": None if point is None else point.y,
                "long": None if point is None else point.x,
                "media_url": media.get(r.id),
            }
        )
    return out


def token_dicts(session: Session, token: str) -> list[dict[str, Any]]:
    """``tokens/{token}``: requests are created at once, so a request's token is its id;
    the answer pairs them (404 for a token of no request)."""
    found = find_request(session, token)
    return [{"service_request_id": str(found.id), "token": token}]


# --------------------------------------------------------------------------- POST requests


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    limit = _LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise BadRequest(
            f"{name} 过长（最多 {limit} 字符）/ {name} is longer than {limit} characters"
        )
    return value


def _float(params: Mapping[str, str], name: str) -> float | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise BadRequest(f"{name} 不是数字 / {name} is not a number: {value!r}") from exc


def _contact(params: Mapping[str, str]) -> dict[str, str | None]:
    """The reporter's details and ``media_url``, each checked (400 naming the bad one)."""
    found = {
        name: _text(params, name)
        for name in ("account_id", "email", "first_name", "last_name", "phone", "device_id")
    }
    if found["email"] is not None and not _EMAIL.match(found["email"]):
        raise BadRequest(f"email 格式无效 / email is not an address: {found['email']!r}")
    if found["phone"] is not None and not _PHONE.match(found["phone"]):
        raise BadRequest("phone 格式无效 / phone must be digits, spaces, + ( ) -")
    media_url = _text(params, "media_url")
    if media_url is not None:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadRequest(
                f"media_url 须为 http(s) 网址 / media_url must be an http(s) URL: {media_url!r}",
            )
    found["media_url"] = media_url
    return found


def create_request(session: Session, params: Mapping[str, str]) -> dict[str, Any]:
    """Report an incident from a ``POST requests`` (form or JSON fields); flushed, not
    committed. Returns the spec's answer ``{service_request_id, service_notice, account_id}``.

    ``api_key`` (403 without a valid one) and ``service_code`` (404 unknown) are required,
    with ``lat``/``long`` (WGS84) or ``address_string``; ``description``, ``media_url`` and
    the reporter's ``account_id``, ``email``, ``first_name``, ``last_name``, ``phone``,
    ``device_id`` are kept (the reporter's details for the staff only).
    """
    key = find_api_key(session, params.get("api_key"))
    if key is None:
        raise Forbidden(
            "缺少或无效的 api_key / api_key missing or invalid"
            if params.get("api_key")
            else "缺少 api_key / api_key is required",
        )
    code = _text(params, "service_code")
    if not code:
        raise BadRequest("缺少 service_code / service_code is required")
    if session.get(IncidentCategory, code) is None:
        raise _unknown_service(code)
    lat, lon = _float(params, "lat"), _float(params, "long")
    address = _text(params, "address_string")
    if (lat is None or lon is None) and not address:
        raise BadRequest(
            "须给出 lat/long 或 address_string（不支持 address_id）/ give lat and long, or "
            "address_string (address_id is not supported)",
        )
    if lat is not None and lon is not None:
        lon, lat = to_storage_lonlat(lon, lat, "wgs84")
    else:
        lon = lat = None
    description = _text(params, "description")
    contact = _contact(params)
    name = " ".join(x for x in (contact["first_name"], contact["last_name"]) if x)
    incident = report_incident(
        session,
        category_code=code,
        actor=Actor(role="open311", username=f"open311:{key.name}"),
        description=description,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=name or None,
    )
    session.add(Open311Submission(incident_id=incident.id, api_key_name=key.name, **contact))
    session.flush()
    due = local_iso(incident.due_at)
    notice = " ".join(
        [
            f"已受理，网格 {incident.grid_code}，办理时限 {due} / accepted, "
            f"grid {incident.grid_code}, due {due}.",
            *routing_warnings(incident),
        ]
    )
    return {
        "service_request_id": str(incident.id),
        "service_notice": notice,
        "account_id": contact["account_id"],
    }


# --------------------------------------------------------------------------- discovery


def discovery(
    endpoint_url: str, *, contact: str, key_service: str, formats: list[str]
) -> dict[str, Any]:
    """The spec's service discovery document: one production GeoReport v2 endpoint."""
    return {
        "changeset": DISCOVERY_CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": DISCOVERY_CHANGESET,
                "type": "production",
                "formats": formats,
            }
        ],
    }
