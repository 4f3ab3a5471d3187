"""Bounds on hostile or accidental input, enforced by the service itself.

Defaults (settings, env ``WANGGE_*``, README "Configuration"):

====================  =========  ==================================================  ======
bound                 default    where                                               answer
====================  =========  ==================================================  ======
``max_body_mb``       20         every request body (:class:`api.app.BodySizeLimit`)  413
``max_json_depth``    32         every JSON body, before parsing (:class:`RequestLimits`) 422
``max_vertices``      100,000    every GeoJSON geometry entering the API
                                 (:func:`check_geojson_geometry`) and every file read
                                 by :func:`gis.io.read_layer`                         422
``max_upload_rows``   100,000    files uploaded through the API (:func:`gis.io.read_layer`,
                                 :func:`api.services.registry.importer.read_table`)           422
``max_local_rows``    none       a user's own files read by CLI commands (``wangge
                                 --max-rows N`` for one run)                         exit 2
``max_unzipped_mb``   200        zipped Shapefiles and XLSX, checked before expanding 422
``request_timeout_s`` 30         every HTTP request (:class:`RequestTimeout`)        504
====================  =========  ==================================================  ======

JSON bodies with ``NaN``/``Infinity`` (not JSON, RFC 8259, though Python's parser takes them)
are refused with 422 before parsing; GeoJSON coordinates that are not finite numbers (``1e999``
parses as infinity) or out of lon/lat range are refused by :func:`check_geojson_geometry`.

A request that runs past ``request_timeout_s`` is answered 504 and the server goes on serving
others. A synchronous handler cannot be stopped mid-way (its worker thread runs to the end), so
the request's database sessions are barred from committing after the 504 has gone: a 504 means
nothing was saved. If the handler had already committed when the time ran out, its real answer
is awaited instead, so that the caller is told the truth.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from api.core.config import Settings, get_settings
from api.core.errors import ApiError, RequestTimedOut, Unprocessable
from api.core.local_limits import apply_cli_limits
from gis.errors import InputError
from gis.io import ReadLimits, get_read_limits, use_read_limits

__all__ = [
    "Limits",
    "RequestLimits",
    "RequestTimeout",
    "apply_cli_limits",
    "check_geojson_geometry",
    "json_depth",
    "json_has_non_finite",
]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds of one app (from the settings unless given)."""

    max_body_bytes: int = 20 * _MIB
    max_vertices: int = 100_000
    max_json_depth: int = 32
    max_upload_rows: int = 100_000
    max_unzipped_bytes: int = 200 * _MIB
    request_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Limits:
        """The bounds the settings name, with ``overrides`` (field names of this class)."""
        s = settings or get_settings()
        values = {
            "max_body_bytes": int(s.max_body_mb * _MIB),
            "max_vertices": s.max_vertices,
            "max_json_depth": s.max_json_depth,
            "max_upload_rows": s.max_upload_rows,
            "max_unzipped_bytes": int(s.max_unzipped_mb * _MIB),
            "request_timeout_s": s.request_timeout_s,
        }
        return cls(**(values | overrides))

    def read_limits(self) -> ReadLimits:
        """The same bounds for the file readers of :mod:`gis.io`."""
        return ReadLimits(
            max_vertices=self.max_vertices,
            max_rows=self.max_upload_rows,
            max_unzipped_bytes=self.max_unzipped_bytes,
        )


# --------------------------------------------------------------------------- JSON bodies

_ESCAPE = re.compile(rb"\\.", re.S)
_NON_FINITE = re.compile(rb"NaN|Infinity")
_DELTA = np.zeros(256, dtype=np.int8)
_DELTA[[ord("["), ord("{")]] = 1
_DELTA[[ord("]"), ord("}")]] = -1
_CHUNK = 4 * _MIB


def _outside_strings(body: bytes) -> bytes:
    """The bytes of a JSON text that are not inside string literals."""
    return b"".join(_ESCAPE.sub(b"", body).split(b'"')[0::2])


def json_depth(body: bytes) -> int:
    """Return the deepest nesting of arrays and objects in a JSON text (brackets in strings
    do not count); the text need not be valid JSON.

    >>> json_depth(b'{"a": [1, {"b": "[[[["}]}')
    3
    >>> json_depth(b'"x"'), json_depth(b"[[]]")
    (0, 2)
    """
    if body.count(b"[") + body.count(b"{") == 0:
        return 0
    data = np.frombuffer(_outside_strings(body), dtype=np.uint8)
    deepest = level = 0
    for start in range(0, len(data), _CHUNK):
        steps = np.cumsum(_DELTA[data[start : start + _CHUNK]], dtype=np.int64) + level
        if len(steps):
            deepest = max(deepest, int(steps.max()))
            level = int(steps[-1])
    return deepest


def json_has_non_finite(body: bytes) -> bool:
    """True if a JSON text holds ``NaN``/``Infinity`` outside strings (not JSON numbers).

    >>> json_has_non_finite(b'[NaN]'), json_has_non_finite(b'["NaN", -1e5]')
    (True, False)
    """
    if b"NaN" not in body and b"Infinity" not in body:
        return False
    return _NON_FINITE.search(_outside_strings(body)) is not None


def _is_json(scope) -> bool:
    """FastAPI parses a body as JSON when its content type is JSON or missing."""
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return not content_type or content_type.endswith(b"json")


def _reply(error: ApiError) -> JSONResponse:
    from api.core.error_handlers import error_response  # the web stack: only when answering

    return error_response(error)


class RequestLimits:
    """ASGI middleware: the app's bounds for the request, and a JSON body check.

    Puts :meth:`Limits.read_limits` in force for the request (so :func:`gis.io.read_layer` and
    :func:`check_geojson_geometry` use this app's bounds), and refuses with 422, before any
    parsing, a JSON body nested deeper than ``max_json_depth`` or holding NaN/Infinity.
    Install it inside :class:`api.app.BodySizeLimit`, which bounds what is buffered here.
    """

    def __init__(self, app, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_read_limits(self.limits.read_limits()):
            if scope["method"] in ("GET", "HEAD", "OPTIONS") or not _is_json(scope):
                await self.app(scope, receive, send)
                return
            chunks, more = [], True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            problem = self._problem(body)
            if problem is not None:
                await _reply(Unprocessable(problem))(scope, receive, send)
                return
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)

    def _problem(self, body: bytes) -> str | None:
        depth, bound = json_depth(body), self.limits.max_json_depth
        if depth > bound:
            return (
                f"JSON 嵌套 {depth} 层，超过上限 {bound} / JSON nested {depth} levels deep, "
                f"more than the bound of {bound} (WANGGE_MAX_JSON_DEPTH)"
            )
        if json_has_non_finite(body):
            return (
                "JSON 含 NaN 或 Infinity（不是合法 JSON 数字）/ JSON holds NaN or Infinity, "
                "which are not JSON numbers (RFC 8259); send finite numbers"
            )
        return None


# --------------------------------------------------------------------------- GeoJSON geometry


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_geojson_geometry(obj: Any, *, what: str, max_vertices: int | None = None) -> int:
    """Return the number of positions of a GeoJSON geometry or Feature; refuse hostile ones.

    Run before the geometry is built: more than ``max_vertices`` positions (default the bound
    in force, :func:`gis.io.get_read_limits`), a coordinate that is not a finite number, or a
    lon/lat out of range (|lat| > 90 hints at swapped axes) raise
    :class:`~gis.errors.InputError` (422) naming ``what``. Counting stops at the bound, so a
    bomb costs no more than an allowed geometry. Shapes that are not GeoJSON are left to the
    parser.

    >>> check_geojson_geometry({"type": "Point", "coordinates": [116.4, 39.9]}, what="p")
    1
    >>> check_geojson_geometry({"type": "Point", "coordinates": [39.9, 116.4]}, what="p")
    Traceback (most recent call last):
    ...
    gis.errors.InputError: p: 纬度超出 ±90 / latitude out of range: (39.9, 116.4); lon and ...
    """
    bound = get_read_limits().max_vertices if max_vertices is None else max_vertices
    if isinstance(obj, Mapping) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, Mapping):
        return 0
    stack: list[Any] = [obj]
    n = 0
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):  # a geometry; a GeometryCollection holds more
            geometries = item.get("geometries")
            if isinstance(geometries, list):
                stack.extend(geometries)
            if "coordinates" in item:
                stack.append(item["coordinates"])
            continue
        if not isinstance(item, list) or not item:
            continue
        if not _is_number(item[0]):
            stack.extend(item)
            continue
        n += 1
        if n > bound:
            raise InputError(
                f"{what}: 几何顶点超过上限 {bound:,} / geometry has more than {bound:,} "
                "vertices; simplify it (bound: WANGGE_MAX_VERTICES)"
            )
        _check_position(item, what)
    return n


def _check_position(position: list, what: str) -> None:
    values = position[:2]
    if len(values) < 2 or not all(_is_number(v) for v in values):
        return  # malformed: the parser says so
    try:
        lon, lat = float(values[0]), float(values[1])
    except OverflowError:  # an int too large for a float
        lon = lat = math.inf
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InputError(
            f"{what}: 坐标不是有限数 / coordinate is not a finite number: {position[:2]}"
        )
    if abs(lat) > 90:
        hint = "lon and lat look swapped" if abs(lon) <= 90 and abs(lat) <= 180 else "not lon/lat?"
        raise InputError(
            f"{what}: 纬度超出 ±90 / latitude out of range: ({lon:g}, {lat:g}); {hint}"
        )
    if abs(lon) > 180:
        raise InputError(f"{what}: 经度超出 ±180 / longitude out of range: ({lon:g}, {lat:g})")


# --------------------------------------------------------------------------- request timeout


class _Deadline:
    """One request's race between its handler's commits and its timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expired = False
        self.committed = False

    def expire(self) -> bool:
        """Mark the request timed out; False if it had already committed (then let it end)."""
        with self.lock:
            if self.committed:
                return False
            self.expired = True
            return True


_DEADLINE: ContextVar[_Deadline | None] = ContextVar("wangge_request_deadline", default=None)


@event.listens_for(Session, "before_commit")
def _no_commit_after_timeout(session: Session) -> None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return
    with deadline.lock:
        if deadline.expired:
            raise RequestTimedOut(
                "请求已超时，不再提交 / the request timed out and was answered 504; not committing"
            )
        deadline.committed = True


class RequestTimeout:
    """ASGI middleware: 504 for a request not answered within ``timeout_s``.

    The handler runs in a task of its own; on time-out the 504 goes out at once, the handler's
    own answer is dropped, and the task is cancelled (a synchronous handler's thread finishes
    in the background, unable to commit). A request whose answer has begun (streaming) or
    whose handler has committed is let finish.
    """

    def __init__(self, app, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = _Deadline()
        token = _DEADLINE.set(deadline)  # inherited by the handler's task and threads
        started = timed_out = False
        finished = anyio.Event()
        error: BaseException | None = None

        async def guarded_send(message):
            nonlocal started
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def run():
            nonlocal error
            try:
                await self.app(scope, receive, guarded_send)
            except Exception as exc:  # re-raised below, outside the task group
                error = exc
            finally:
                finished.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                with anyio.move_on_after(self.timeout_s):
                    await finished.wait()
                if not finished.is_set() and not started and deadline.expire():
                    timed_out = True
                    await _reply(
                        RequestTimedOut(
                            f"请求超过 {self.timeout_s:g} 秒，已中止，未保存任何更改 / the request "
                            f"took longer than {self.timeout_s:g} s and was abandoned; nothing was "
                            "saved (bound: WANGGE_REQUEST_TIMEOUT_S)",
                        )
                    )(scope, receive, send)
                    tg.cancel_scope.cancel()
        finally:
            _DEADLINE.reset(token)
        if error is not None and not timed_out:
            raise error
