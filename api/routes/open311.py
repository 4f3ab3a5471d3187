"""Open311 GeoReport v2 under ``/open311/v2/``, in JSON and XML, on the same incidents.

Every endpoint answers in the format its suffix names (``.json`` or ``.xml``), errors too:

- ``GET services``: one service per incident category
  (:func:`api.services.incidents.open311.services`);
- ``GET services/{code}``: the service definition (no extra attributes);
- ``GET requests``: filters ``service_request_id`` (comma list; overrides the others),
  ``service_code`` (comma list), ``start_date``/``end_date`` (W3C times), ``status``;
- ``POST requests``: form-encoded (as the spec) or JSON; ``api_key`` and ``service_code``
  required; ``lat``/``long`` (WGS84) or ``address_string``; ``description``, ``media_url``
  and the reporter's ``account_id``, ``email``, ``first_name``, ``last_name``, ``phone``,
  ``device_id`` kept (the reporter's details never appear in an answer);
- ``GET requests/{id}``: one request, as a one-element list;
- ``GET tokens/{token}``: the request of a token (a request's token is its id);
- ``GET /open311/discovery``: the spec's service discovery document.

Only incidents of public categories are ever listed or read (a request of another category
is 404, as if it did not exist), with description, address and notes redacted
(:mod:`api.services.incidents.publication`); reporters never appear.

Errors are the spec's list ``[{"code", "description"}]`` with the HTTP status (400 bad input,
403 bad or missing API key, 404 unknown, 405 a known endpoint asked with another method).
The data is built by :mod:`api.services.incidents.open311` and serialised by
:mod:`api.services.incidents.open311_format`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.core.config import get_settings
from api.core.errors import BadRequest, http_status
from api.routes.deps import SessionDep
from api.services.incidents import open311 as data
from api.services.incidents.open311 import MAX_REQUESTS
from api.services.incidents.open311_format import (
    FORMATS,
    MEDIA_TYPES,
    Format,
    error_response,
    render,
)
from gis.errors import WanggeError

__all__ = ["MAX_REQUESTS", "router"]

router = APIRouter(prefix="/open311", tags=["open311"])

# the statuses GeoReport v2 names for errors; any other error is answered 400
_SPEC_STATUSES = (400, 403, 404)


def _format(request: Request) -> Format:
    return "xml" if request.url.path.endswith(".xml") else "json"


def _both_formats(method: str, path: str, *, status_code: int = 200) -> Callable:
    """Register the endpoint at ``path.json`` and ``path.xml``."""

    def register(func: Callable) -> Callable:
        for fmt in FORMATS:
            router.add_api_route(
                f"{path}.{fmt}",
                func,
                methods=[method],
                name=f"{func.__name__}_{fmt}",
                status_code=status_code,
                response_class=Response,
                responses={status_code: {"content": {MEDIA_TYPES[fmt]: {}}}},
            )
        return func

    return register


def _guarded(fmt: Format, func: Callable[[], Response]) -> Response:
    """Run ``func``; turn wangge and API errors into the spec's error list in ``fmt``."""
    try:
        return func()
    except (WanggeError, ValueError) as exc:
        return _spec_error(fmt, exc)


def _spec_error(fmt: Format, exc: Exception) -> Response:
    """The spec's error list for ``exc``: its table status when the spec knows it, else 400."""
    code = http_status(exc) if isinstance(exc, WanggeError) else 400
    return error_response(fmt, code if code in _SPEC_STATUSES else 400, str(exc))


@_both_formats("GET", "/discovery")
def discovery(request: Request) -> Response:
    """服务发现 / Open311 service discovery document."""
    settings = get_settings()
    endpoint = str(request.base_url).rstrip("/") + "/open311/v2/"
    content = data.discovery(
        endpoint,
        contact=settings.open311_contact,
        key_service=settings.open311_key_service,
        formats=[MEDIA_TYPES["xml"], MEDIA_TYPES["json"]],
    )
    return render(_format(request), "discovery", content)


@_both_formats("GET", "/v2/services")
def services(request: Request, session: SessionDep) -> Response:
    """服务列表 / GeoReport v2 service list (the incident categories)."""
    fmt = _format(request)
    return _guarded(fmt, lambda: render(fmt, "services", data.services(session)))


@_both_formats("GET", "/v2/services/{code}")
def service_definition(code: str, request: Request, session: SessionDep) -> Response:
    """服务定义 / GeoReport v2 service definition (no extra attributes)."""
    fmt = _format(request)
    return _guarded(
        fmt, lambda: render(fmt, "service_definition", data.service_definition(session, code))
    )


def _photo_url(request: Request) -> Callable[[int, int], str]:
    return lambda incident_id, photo_id: str(
        request.url_for("read_photo", incident_id=incident_id, photo_id=photo_id)
    )


@_both_formats("GET", "/v2/requests")
def list_requests(request: Request, session: SessionDep) -> Response:
    """服务请求查询 / GeoReport v2 service requests, filtered."""
    fmt = _format(request)

    def run() -> Response:
        wanted = data.RequestFilter.parse(request.query_params)
        rows = list(session.scalars(data.request_query(wanted)))
        content = data.request_dicts(session, rows, photo_url=_photo_url(request))
        return render(fmt, "service_requests", content)

    return _guarded(fmt, run)


@_both_formats("GET", "/v2/requests/{request_id}")
def read_request(request_id: str, request: Request, session: SessionDep) -> Response:
    """单个服务请求 / One GeoReport v2 service request (a one-element list)."""
    fmt = _format(request)

    def run() -> Response:
        found = data.find_request(session, request_id)
        content = data.request_dicts(session, [found], photo_url=_photo_url(request))
        return render(fmt, "service_requests", content)

    return _guarded(fmt, run)


@_both_formats("GET", "/v2/tokens/{token}")
def read_token(token: str, request: Request, session: SessionDep) -> Response:
    """令牌查询 / The service request of a token (a request's token is its id)."""
    fmt = _format(request)
    return _guarded(fmt, lambda: render(fmt, "service_requests", data.token_dicts(session, token)))


async def _params(request: Request) -> dict[str, str]:
    """The fields of a POST: form-encoded (the spec) or a JSON object; query string too."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise BadRequest("JSON 格式错误 / malformed JSON") from exc
        if not isinstance(body, dict):
            raise BadRequest("JSON 须为对象 / JSON body must be an object")
        params = {k: "" if v is None else str(v) for k, v in body.items()}
    else:
        form = await request.form()
        params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    for key, value in request.query_params.items():
        params.setdefault(key, value)
    return {k: v.strip() for k, v in params.items()}


@_both_formats("POST", "/v2/requests", status_code=201)
async def create_request(request: Request, session: SessionDep) -> Response:
    """提交服务请求 / Create a GeoReport v2 service request (form or JSON; api_key needed)."""
    fmt = _format(request)
    try:
        params = await _params(request)
    except BadRequest as exc:
        return _spec_error(fmt, exc)

    def run() -> Response:
        answer = data.create_request(session, params)
        session.commit()
        return render(fmt, "service_requests", [answer], status_code=201)

    return _guarded(fmt, run)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST"], include_in_schema=False, response_class=Response
)
def unknown_endpoint(rest: str, request: Request) -> Response:
    """Anything else under ``/open311``: 404 (or 405 for a known endpoint and another
    method) in the format the path's suffix asks for, like every Open311 error."""
    fmt = _format(request)
    for route in router.routes:
        if route.path_regex.match(request.url.path) and route.name != "unknown_endpoint":
            return error_response(
                fmt,
                405,
                f"此接口不接受 {request.method} / {request.method} is not allowed here",
            )
    return error_response(
        fmt, 404, f"没有此 Open311 接口 / no Open311 endpoint at {request.url.path}"
    )
