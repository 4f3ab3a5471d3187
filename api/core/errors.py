"""Errors of the web API: domain errors carry their HTTP status; one handler renders them.

Every error answer is ``{"detail": "中文 / English"}`` (a field-by-field ``errors`` list may
follow). Nothing the caller can cause becomes a 500: request validation errors are 422 with
the field and the reason, gis :class:`~gis.errors.InputError` is 422 (an unreadable file 400),
a database constraint violation is 409, an oversized body 413 (:mod:`api.app`), a number the
database cannot hold (an offset past 64 bits) 422. A database that cannot be reached (PostGIS
down, a dropped connection) or is busy (SQLite's ``database is locked``) is 503 with
``Retry-After``: the request did nothing and may be repeated.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.crypto import DataKeyError
from gis.errors import InputError, UnreadableFileError

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "field_errors",
    "install_error_handlers",
]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A domain error with an HTTP status and a message for the caller (``detail``)."""

    status_code = 400

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail, self.errors, self.headers = detail, errors, headers
        self.extra = extra  # more keys of the answer's body beside "detail"


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    """401: no token, a bad token, an expired token, or a wrong password."""

    status_code = 401

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class PayloadTooLarge(ApiError):
    status_code = 413


class Unprocessable(ApiError):
    status_code = 422


class TooManyRequests(ApiError):
    """429 with ``Retry-After`` (seconds): answered at once, never by holding the request."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(int(retry_after_s))})


def field_errors(errors) -> Unprocessable:
    """Return a 422 for a list of :class:`api.services.registry.validators.FieldError`."""
    detail = "; ".join(e.message for e in errors)
    return Unprocessable(
        f"数据无效 / invalid data: {detail}",
        errors=[
            {"field": e.field, "reason_zh": e.reason_zh, "reason_en": e.reason_en} for e in errors
        ],
    )


def _body(detail: str, errors: list | None = None) -> dict[str, Any]:
    return {"detail": detail} if errors is None else {"detail": detail, "errors": errors}


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    items = []
    for error in exc.errors():
        where = _location(tuple(error.get("loc", ())))
        if error.get("type") == "json_invalid":
            reason = f"JSON 格式错误 / malformed JSON ({error.get('ctx', {}).get('error', '')})"
        else:
            reason = error.get("msg", "invalid")
        items.append({"field": where, "reason_en": reason})
    text = "; ".join(f"{i['field']}: {i['reason_en']}" for i in items)
    return f"请求无效 / invalid request: {text}", items


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "中文 / English"},
        "errors": {
            "type": "array",
            "title": "Errors",
            "description": "field by field (422)",
            "items": {"type": "object", "additionalProperties": True},
        },
    },
}
"""The shape of every error answer, declared in the OpenAPI schema for 422."""


def _declare_error_shape(app: FastAPI) -> None:
    """Make the schema's 422 answer (FastAPI's ``HTTPValidationError``) the real error shape."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_SCHEMA
        return app.openapi_schema

    app.openapi = openapi


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as ``{"detail": ...}``."""
    _declare_error_shape(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {**_body(exc.detail, exc.errors), **(exc.extra or {})},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, items = _validation_detail(exc)
        return JSONResponse(_body(detail, items), status_code=422)

    @app.exception_handler(UnreadableFileError)
    async def _unreadable(request: Request, exc: UnreadableFileError) -> JSONResponse:
        return JSONResponse(_body(str(exc)), status_code=400)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(_body(str(exc)), status_code=422)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # an integer past the database's 64 bits (an offset, an id): the caller's doing
        return JSONResponse(_body(f"数值超出范围 / number out of range: {exc}"), status_code=422)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return JSONResponse(_body(f"数值无效或超出范围 / invalid value: {reason}"), status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return JSONResponse(
            _body(f"与已有数据冲突 / conflicts with existing data: {reason}"), status_code=409
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    reason[0] if reason else type(exc).__name__)  # fmt: skip
        return JSONResponse(
            _body(
                "数据库暂时不可用，请稍后重试 / database temporarily unavailable, retry later"
                + (f" ({reason[0][:200]})" if reason else "")
            ),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for error in (OperationalError, InterfaceError, DisconnectionError):
        app.add_exception_handler(error, _unavailable)

    @app.exception_handler(DataKeyError)
    async def _data_key(request: Request, exc: DataKeyError) -> JSONResponse:
        # a deployment without (or with the wrong) data key: the server's fault, not the caller's
        log.error("data key problem on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(_body(str(exc)), status_code=503)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            _body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
