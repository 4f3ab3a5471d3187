"""The error tree of the API and the one table that gives each error its answer.

Every wangge error descends from :class:`gis.errors.WanggeError`; the classes here add the
kinds only the server has (not found, forbidden, conflict…). Services and domain modules
raise these (or a subclass of their own) and never pick an HTTP status: :data:`ERROR_TABLE`
maps each class to the HTTP status the API answers (:mod:`api.core.error_handlers`) and the exit
code the CLI ends with (:func:`api.cli.output.fail_input`), and a class not in the table takes
the entry of its nearest listed ancestor (:func:`rule_for`).

Every error answer is ``{"detail": "中文 / English"}`` (a field-by-field ``errors`` list may
follow). Nothing the caller can cause becomes a 500: request validation errors are 422 with
the field and the reason, gis :class:`~gis.errors.InputError` is 422 (an unreadable file 400),
a database constraint violation is 409, an oversized body 413, a number the database cannot
hold (an offset past 64 bits) 422. A database that cannot be reached (PostGIS down, a dropped
connection) or is busy (SQLite's ``database is locked``) is 503 with ``Retry-After``: the
request did nothing and may be repeated.

This module imports no web framework, so that the CLI can read the table without loading
the web stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from gis.errors import InputError, UnreadableFileError, WanggeError

__all__ = [
    "ERROR_TABLE",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ErrorRule",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RequestTimedOut",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "exit_code",
    "field_errors",
    "http_status",
    "rule_for",
]

EXIT_BAD_INPUT = 2
"""The CLI's exit code for a command that refused its input or could not run (wrote nothing)."""


class ApiError(WanggeError):
    """A domain error with a message for the caller (``detail``).

    ``errors`` is a field-by-field list, ``headers`` extra answer headers, ``extra`` more keys
    of the answer's body beside ``detail``. The status is the table's (:data:`ERROR_TABLE`).
    """

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
        self.extra = extra


class BadRequest(ApiError):
    """A request that cannot be understood (a malformed parameter, an unknown format)."""


class Unauthorized(ApiError):
    """No token, a bad token, an expired token, or a wrong password."""

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    """The caller is known but may not do this (role, community, grid)."""


class NotFound(ApiError):
    """The thing asked for does not exist."""


class Conflict(ApiError):
    """The request collides with the stored state (a duplicate, a changed version)."""


class PayloadTooLarge(ApiError):
    """A body or a file over the configured size."""


class Unprocessable(ApiError):
    """A well-formed request whose content is invalid (a field, a geometry, a date)."""


class TooManyRequests(ApiError):
    """Over a rate limit; ``Retry-After`` (seconds) says when to try again.

    Answered at once, never by holding the request.
    """

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(int(retry_after_s))})


class ServiceUnavailable(ApiError):
    """Something the server needs is missing or failing (a data key, SpatiaLite, a tool).

    The deployment's fault, not the caller's; the request did nothing.
    """


class RequestTimedOut(ApiError):
    """A request abandoned at the server's time bound; nothing was saved."""


@dataclass(frozen=True)
class ErrorRule:
    """How one error class is answered: HTTP status and CLI exit code."""

    status: int
    exit_code: int


ERROR_TABLE: dict[type[BaseException], ErrorRule] = {
    # the root: a class that does not pick a closer entry is the server's fault
    WanggeError: ErrorRule(500, EXIT_BAD_INPUT),
    InputError: ErrorRule(422, EXIT_BAD_INPUT),
    UnreadableFileError: ErrorRule(400, EXIT_BAD_INPUT),
    ApiError: ErrorRule(400, EXIT_BAD_INPUT),
    BadRequest: ErrorRule(400, EXIT_BAD_INPUT),
    Unauthorized: ErrorRule(401, EXIT_BAD_INPUT),
    Forbidden: ErrorRule(403, EXIT_BAD_INPUT),
    NotFound: ErrorRule(404, EXIT_BAD_INPUT),
    Conflict: ErrorRule(409, EXIT_BAD_INPUT),
    PayloadTooLarge: ErrorRule(413, EXIT_BAD_INPUT),
    Unprocessable: ErrorRule(422, EXIT_BAD_INPUT),
    TooManyRequests: ErrorRule(429, EXIT_BAD_INPUT),
    ServiceUnavailable: ErrorRule(503, EXIT_BAD_INPUT),
    RequestTimedOut: ErrorRule(504, EXIT_BAD_INPUT),
    # errors of the libraries underneath, answered the same way wherever they surface
    OverflowError: ErrorRule(422, EXIT_BAD_INPUT),  # an integer past the database's 64 bits
    DataError: ErrorRule(422, EXIT_BAD_INPUT),
    IntegrityError: ErrorRule(409, EXIT_BAD_INPUT),
    OperationalError: ErrorRule(503, EXIT_BAD_INPUT),
    InterfaceError: ErrorRule(503, EXIT_BAD_INPUT),
    DisconnectionError: ErrorRule(503, EXIT_BAD_INPUT),
}
"""Each error class's HTTP status and CLI exit code; subclasses inherit their ancestor's."""


def rule_for(error: BaseException | type[BaseException]) -> ErrorRule | None:
    """Return the table's rule for ``error`` (an exception or a class), or None.

    The nearest class in the method resolution order that the table lists decides.

    >>> rule_for(NotFound("x")).status
    404
    >>> rule_for(KeyError) is None
    True
    """
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        rule = ERROR_TABLE.get(klass)
        if rule is not None:
            return rule
    return None


def http_status(error: BaseException | type[BaseException]) -> int:
    """Return the HTTP status for ``error`` (500 for an error the table does not know)."""
    rule = rule_for(error)
    return 500 if rule is None else rule.status


def exit_code(error: BaseException | type[BaseException]) -> int:
    """Return the CLI exit code for ``error``.

    An error outside the table that a command caught on purpose (a file it could not write)
    is bad input too: exit 2.
    """
    rule = rule_for(error)
    return EXIT_BAD_INPUT if rule is None else rule.exit_code


def field_errors(errors) -> Unprocessable:
    """Return an :class:`Unprocessable` for a list of validator ``FieldError`` (registry)."""
    detail = "; ".join(e.message for e in errors)
    return Unprocessable(
        f"数据无效 / invalid data: {detail}",
        errors=[
            {"field": e.field, "reason_zh": e.reason_zh, "reason_en": e.reason_en} for e in errors
        ],
    )
