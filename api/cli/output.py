"""What every ``wangge`` command prints with: the consoles, the exit codes, the bad-input exit.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.
"""

from __future__ import annotations

import math
from typing import Any

import typer
from rich.console import Console

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "err",
    "fail_input",
    "fail_service",
    "fmt_number",
    "out",
]

out = Console(soft_wrap=True)
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def fail_input(exc: Exception) -> typer.Exit:
    """Print ``exc`` as a bad-input message on stderr and return the exit (code 2) to raise."""
    err.print(f"[bold red]输入错误 / bad input:[/] {exc}", highlight=False, markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


def fmt_number(value: Any, digits: int = 1) -> str:
    """Format a number with thousands separators; None/NaN as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def fail_service(exc: Exception) -> typer.Exit:
    """:func:`fail_input` for a service's error: an :class:`~api.core.errors.ApiError` by its
    detail, anything else as it is."""
    from api.core.errors import ApiError

    if isinstance(exc, ApiError):
        return fail_input(exc.detail)  # type: ignore[arg-type]
    return fail_input(exc)
