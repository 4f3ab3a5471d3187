"""What every ``wangge`` command prints with: the consoles, the exit codes, the bad-input exit.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.
"""

from __future__ import annotations

import math
from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "WanggeGroup",
    "err",
    "fail_input",
    "fail_service",
    "fmt_number",
    "out",
]

out = Console(soft_wrap=True)
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def fail_input(exc: Exception | str) -> typer.Exit:
    """Print ``exc`` as a bad-input message on stderr and return the exit to raise.

    The exit code is the one :data:`api.core.errors.ERROR_TABLE` gives ``exc`` (2 for a
    message, or for an error outside the table that a command caught on purpose).
    """
    from api.core.errors import exit_code

    err.print(f"[bold red]输入错误 / bad input:[/] {exc}", highlight=False, markup=True)
    return typer.Exit(exit_code(exc) if isinstance(exc, BaseException) else EXIT_BAD_INPUT)


class WanggeGroup(TyperGroup):
    """The ``wangge`` command group: a wangge error no command caught ends the run as
    :func:`fail_input` does (message on stderr, the table's exit code), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from gis.errors import WanggeError

        try:
            return super().invoke(ctx)
        except WanggeError as exc:
            raise fail_input(exc) from exc


def fmt_number(value: Any, digits: int = 1) -> str:
    """Format a number with thousands separators; None/NaN as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def fail_service(exc: Exception) -> typer.Exit:
    """:func:`fail_input` for a service's error (an :class:`~api.core.errors.ApiError` prints
    as its detail; its exit code is the table's like any other)."""
    return fail_input(exc)  # an ApiError prints as its detail
