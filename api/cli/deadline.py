"""``wangge deadline``: when an incident is due (a thin wrapper of
api.services.incidents.deadlines).

Registered on the app in :mod:`api.cli`; the shared option types are in :mod:`api.cli.options`.

Output: the due time (ISO 8601 with offset) alone on the first line, then the working days
counted; ``--json`` prints ``{"due": "...+08:00", "working_days": ["YYYY-MM-DD", ...]}``.
A year the calendar data does not cover is warned about on stderr.
Exit codes: 0 ok, 2 unusable input (a bad time, severity or office hours).
"""

from __future__ import annotations

import json
import warnings
from typing import Annotated

import typer

from api.cli.options import JsonFlag
from api.cli.output import err, fail_input, out
from api.services.incidents.calendar import CalendarCoverageWarning
from api.services.incidents.deadlines import due_at
from gis.errors import WanggeError

__all__ = ["deadline_command"]


def deadline_command(
    severity: Annotated[
        str,
        typer.Option(
            "--severity",
            help="严重程度 major（重大，当日办结）| general（一般，3 个工作日）"
            " / severity: major (same day) | general (3 working days)",
        ),
    ],
    reported_at: Annotated[
        str,
        typer.Option(
            "--reported-at",
            help="上报时间 ISO 8601，无时区按北京时间 / time of the report, ISO 8601;"
            " without an offset it is Asia/Shanghai",
        ),
    ],
    office_hours: Annotated[
        str | None,
        typer.Option(
            "--office-hours",
            help="办公时间，如 09:00-12:00,13:30-17:30（默认截止于当日 23:59:59）"
            " / office hours; by default a deadline falls at 23:59:59",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """计算事件办结期限（法定工作日历）/ When an incident is due (official working calendar)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalendarCoverageWarning)
            deadline = due_at(reported_at, severity, office_hours=office_hours)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    for message in dict.fromkeys(str(w.message) for w in caught):
        err.print(f"[yellow]警告 / warning:[/] {message}", highlight=False)

    due = deadline.due.isoformat()
    days = [d.isoformat() for d in deadline.working_days]
    if as_json:
        out.print_json(json.dumps({"due": due, "working_days": days}))
    else:
        out.print(due, highlight=False)
        counted = ", ".join(days) if days else "无（当日办结）/ none (same day)"
        out.print(f"计入的工作日 / working days counted: {counted}", highlight=False)
