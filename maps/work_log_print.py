"""The printable weekly work log (网格员工作日志, one week): vector PDF, A4.

What a street office files for a grid worker's week: the worker (signed name), the week
(Monday–Sunday), the grids, each day's GPS patrol hours and approved manual hours (apart),
every work-log entry of the day (time in Asia/Shanghai with its offset, kind, what, note,
the name it is signed with), the weekly total against the requirement, and signature lines
with a date for the worker and the community head. Fonts as :mod:`maps.print` (Noto Sans
CJK): the text stays extractable (``pdftotext``).

The renderer takes plain data (:class:`WeeklyLog`); the API and the CLI fill it from the
database (:func:`api.services.patrol.weekly_log`).
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gis.errors import InputError
from maps.print import PAPER_IN, check_glyph_warnings, cjk_style

__all__ = ["LogDay", "LogEntry", "WeeklyLog", "render_weekly_log"]

_ROWS_PER_PAGE = 28
_ROW_H = 0.021


@dataclass(frozen=True)
class LogEntry:
    """One work-log line as printed."""

    time: str  # HH:MM+08:00
    kind: str  # Chinese name
    what: str
    signed: str


@dataclass(frozen=True)
class LogDay:
    """One day: GPS and manual hours, entries."""

    date: str
    weekday: str
    gps_hours: float
    manual_hours: float
    entries: list[LogEntry] = field(default_factory=list)


@dataclass(frozen=True)
class WeeklyLog:
    """The week as printed."""

    worker: str
    signed_name: str
    grids: str
    week_start: str
    week_end: str
    threshold_hours: float
    days: list[LogDay]
    printed_at: str = ""

    @property
    def gps_hours(self) -> float:
        return sum(d.gps_hours for d in self.days)

    @property
    def manual_hours(self) -> float:
        return sum(d.manual_hours for d in self.days)


def _lines(log: WeeklyLog) -> list[tuple[str, tuple[str, ...]]]:
    """Printed rows: ("day", cells) headers and ("entry", cells) lines."""
    rows: list[tuple[str, tuple[str, ...]]] = []
    for d in log.days:
        rows.append(("day", (f"{d.date}（{d.weekday}）",
                             f"GPS 巡查 {d.gps_hours:.2f} 小时",
                             f"补录巡查 {d.manual_hours:.2f} 小时")))  # fmt: skip
        if not d.entries:
            rows.append(("entry", ("", "", "（无记录）", "")))
        for e in d.entries:
            what = textwrap.wrap(e.what, 40) or [""]
            rows.append(("entry", (e.time, e.kind, what[0], e.signed)))
            rows.extend(("entry", ("", "", more, "")) for more in what[1:2])
    return rows


def _header(fig: Figure, log: WeeklyLog, page: int, pages: int) -> None:
    fig.text(0.5, 0.955, "网格员工作日志（周）", ha="center", va="top", fontsize=18,
             weight="bold")  # fmt: skip
    fig.text(0.92, 0.955, f"第 {page}/{pages} 页", ha="right", va="top", fontsize=8)
    fig.text(0.08, 0.915, f"网格员：{log.signed_name}（{log.worker}）", fontsize=9)
    fig.text(0.08, 0.893, f"负责网格：{log.grids}", fontsize=9)
    fig.text(0.92, 0.915, f"周期：{log.week_start} 至 {log.week_end}", ha="right", fontsize=9)
    fig.text(0.92, 0.893, f"打印时间：{log.printed_at}", ha="right", fontsize=9)


_X = (0.08, 0.27, 0.38, 0.78)


def _rows(fig: Figure, rows: list[tuple[str, tuple[str, ...]]]) -> None:
    y = 0.86
    for label, x in zip(("时间", "类型", "内容", "签名"), _X, strict=True):
        fig.text(x, y, label, fontsize=8, weight="bold")
    fig.add_artist(Line2D([0.08, 0.92], [y - 0.006, y - 0.006], lw=0.6, color="black"))
    y -= _ROW_H
    for kind, cells in rows:
        if kind == "day":
            y -= 0.004
            fig.text(0.08, y, cells[0], fontsize=9, weight="bold")
            fig.text(0.38, y, cells[1], fontsize=8)
            fig.text(0.62, y, cells[2], fontsize=8)
        else:
            for x, text in zip(_X, cells, strict=True):
                fig.text(x, y, text, fontsize=7.5)
        y -= _ROW_H


def _totals(fig: Figure, log: WeeklyLog) -> None:
    total = log.gps_hours + log.manual_hours
    short = total < log.threshold_hours
    verdict = (f"不足 {log.threshold_hours:g} 小时" if short
               else f"达到 {log.threshold_hours:g} 小时要求")  # fmt: skip
    y = 0.2
    fig.add_artist(Line2D([0.08, 0.92], [y + 0.025, y + 0.025], lw=0.6, color="black"))
    fig.text(0.08, y, f"本周合计 {total:.2f} 小时（GPS {log.gps_hours:.2f} 小时，经批准补录 "
             f"{log.manual_hours:.2f} 小时）：{verdict}", fontsize=10, weight="bold")  # fmt: skip
    y -= 0.05
    for label in ("网格员签名", "社区负责人签名"):
        fig.text(0.08, y, f"{label}：", fontsize=9)
        fig.add_artist(Line2D([0.24, 0.58], [y - 0.003, y - 0.003], lw=0.6, color="black"))
        fig.text(0.62, y, "日期：", fontsize=9)
        fig.add_artist(Line2D([0.68, 0.92], [y - 0.003, y - 0.003], lw=0.6, color="black"))
        y -= 0.045


def render_weekly_log(log: WeeklyLog, out: str | Path) -> Path:
    """Write the weekly work log as an A4 PDF (more pages when long; totals and signature
    lines on the last); return the path."""
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise InputError(f"工作日志须为 .pdf / the weekly log is a .pdf, not {out.name}")
    rows = _lines(log)
    chunks = [rows[i : i + _ROWS_PER_PAGE] for i in range(0, len(rows), _ROWS_PER_PAGE)] or [[]]
    out.parent.mkdir(parents=True, exist_ok=True)
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        title = f"网格员工作日志 {log.signed_name} {log.week_start}"
        with PdfPages(out, metadata={"Title": title}) as pdf:
            for n, chunk in enumerate(chunks, start=1):
                fig = Figure(figsize=PAPER_IN["A4"])
                _header(fig, log, n, len(chunks))
                _rows(fig, chunk)
                if n == len(chunks):
                    _totals(fig, log)
                pdf.savefig(fig)
    check_glyph_warnings(caught)
    return out
