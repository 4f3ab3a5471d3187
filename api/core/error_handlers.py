"""The web API's one renderer of errors: ``{"detail": ...}`` with the table's status.

:func:`install_error_handlers` registers handlers that look every error up in
:data:`api.core.errors.ERROR_TABLE`; :func:`error_response` renders one error the same way for
the middlewares that answer before a route runs. No other place picks an error's status.
The framework's own HTTP errors (no such route 404, wrong method 405) keep the status the
framework gave them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import ERROR_TABLE, ApiError, Unprocessable, http_status
from gis.errors import WanggeError

__all__ = ["ERROR_SCHEMA", "error_body", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)


def error_body(detail: str, errors: list | None = None) -> dict[str, Any]:
    """The body of an error answer: ``{"detail": ...}`` and, when given, ``errors``."""
    return {"detail": detail} if errors is None else {"detail": detail, "errors": errors}


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else ""


def _detail(exc: BaseException) -> str:
    """The caller's message for an error: its own for wangge errors, a labelled one else."""
    status = http_status(exc)
    if isinstance(exc, ApiError):
        return exc.detail
    if isinstance(exc, WanggeError):
        return str(exc)
    if isinstance(exc, OverflowError):
        return f"数值超出范围 / number out of range: {exc}"
    if isinstance(exc, DataError):
        return f"数值无效或超出范围 / invalid value: {_first_line(exc)}"
    if isinstance(exc, IntegrityError):
        return f"与已有数据冲突 / conflicts with existing data: {_first_line(exc)}"
    if status == 503:  # the database is down, gone or locked
        reason = _first_line(exc)
        return "数据库暂时不可用，请稍后重试 / database temporarily unavailable, retry later" + (
            f" ({reason[:200]})" if reason else ""
        )
    return str(exc)


def error_response(exc: BaseException, request: Request | None = None) -> JSONResponse:
    """Render ``exc`` as ``{"detail": ...}`` with the status :data:`ERROR_TABLE` gives."""
    status = http_status(exc)
    headers = getattr(exc, "headers", None) if isinstance(exc, ApiError) else None
    if status == 503 and not isinstance(exc, ApiError):
        headers = {"Retry-After": "5"}  # the request did nothing and may be repeated
    body = error_body(_detail(exc), exc.errors if isinstance(exc, ApiError) else None)
    if isinstance(exc, ApiError) and exc.extra:
        body.update(exc.extra)
    if status >= 500 and request is not None:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path,
                  _first_line(exc) or type(exc).__name__)  # fmt: skip
    return JSONResponse(body, status_code=status, headers=headers)


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

    async def _from_table(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc, request)

    for error in ERROR_TABLE:
        app.add_exception_handler(error, _from_table)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # a request the framework could not parse is unprocessable content like any other
        detail, items = _validation_detail(exc)
        return error_response(Unprocessable(detail, errors=items))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
