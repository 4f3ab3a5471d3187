"""What every ``wangge`` command prints with: the consoles, the exit codes, the bad-input exit.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.
"""

from __future__ import annotations

import json as jsonlib
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
    "report_dry_run",
]


class _Console(Console):
    """A console whose :meth:`print_json` writes plain text when the output is not a terminal.

    Rich parses, re-indents and highlights JSON token by token: seconds for the GeoJSON
    findings of a large division. Scripts read the same text (indent 2, UTF-8) at once.
    """

    def print_json(self, json: str | None = None, *, data: Any = None, **kwargs) -> None:
        if self.is_terminal or set(kwargs) - {"ensure_ascii", "default"}:
            super().print_json(json, data=data, **kwargs)
            return
        value = jsonlib.loads(json) if json is not None else data
        text = jsonlib.dumps(
            value,
            indent=2,
            ensure_ascii=kwargs.get("ensure_ascii", False),
            default=kwargs.get("default"),
        )
        self.file.write(text + "\n")
        self.file.flush()


out = _Console(soft_wrap=True)
err = _Console(stderr=True)

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


def report_dry_run(report, payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Say what a dry run would have written (a ``WriteReport``).

    With ``payload`` (the command's ``--json`` output) return it with ``dry_run`` and
    ``would_write`` added, for the caller to print; without, print the report's lines.
    """
    if payload is not None:
        return payload | {"dry_run": True, "would_write": report.as_dict()}
    for line in report.lines():
        out.print(line, highlight=False, markup=False)
    return None
