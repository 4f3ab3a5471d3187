"""The printable 信息反馈单 (information feedback slip) of one incident: vector PDF, A4.

The slip is what the street office files: the item (number, category, grid, place, report
time, deadline, severity, state, description), every step of its history in order (step,
state after it, who by real name, role, post and department, the time in Asia/Shanghai with
its offset, note or reason), and signature lines with a date for the grid worker, the
post-responsible person and the recipient of an escalation. With a ``rating_url`` (a handled
item), the last page carries the resident's one-time satisfaction link as a QR code (3 cm,
vector squares, error correction M) and as text beside the signatures. Fonts as :mod:`maps.print`
(Noto Sans CJK, Type 3): the text stays extractable (``pdftotext``).

The renderer takes plain data (:class:`Slip`); the API fills it from the database.
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from gis.errors import InputError
from maps.print import PAPER_IN, check_glyph_warnings, cjk_style

__all__ = ["QR_SIDE_CM", "SIGNATURES", "Slip", "SlipStep", "render_feedback_slip"]

SIGNATURES = ("网格员（发现人）", "岗位责任人（承办人）", "签收人（上报对象）")
_ROW_H = 0.034  # figure fraction per history line
_STEPS_PER_PAGE = 14


@dataclass(frozen=True)
class SlipStep:
    """One history step as printed."""

    seq: int
    action: str  # Chinese name of the step
    state: str  # Chinese name of the state after it
    who: str  # real name (else user name)
    role: str
    department: str | None
    at: str  # Asia/Shanghai with offset
    note: str | None = None


@dataclass(frozen=True)
class Slip:
    """What the slip shows: header fields (label → value, in order) and the steps."""

    incident_id: int
    title: str
    fields: list[tuple[str, str]]
    description: str
    steps: list[SlipStep] = field(default_factory=list)
    printed_at: str = ""
    rating_url: str | None = None  # the resident's one-time satisfaction link


def _wrap(text: str | None, width: int) -> list[str]:
    return textwrap.wrap(text or "", width=width) or [""]


def _header(fig: Figure, slip: Slip, page: int, pages: int) -> None:
    fig.text(0.5, 0.955, slip.title, ha="center", va="top", fontsize=18, weight="bold")
    fig.text(0.92, 0.955, f"第 {page}/{pages} 页", ha="right", va="top", fontsize=8)
    fig.text(0.08, 0.915, f"事件编号：{slip.incident_id}", fontsize=9)
    fig.text(0.92, 0.915, f"打印时间：{slip.printed_at}", ha="right", fontsize=9)


def _fields(fig: Figure, slip: Slip) -> float:
    y = 0.88
    pairs = slip.fields
    for i in range(0, len(pairs), 2):
        for j, (label, value) in enumerate(pairs[i : i + 2]):
            x = 0.08 + j * 0.43
            fig.text(x, y, f"{label}：", fontsize=9, weight="bold")
            fig.text(x + 0.11, y, value or "—", fontsize=9)
        y -= 0.026
    fig.text(0.08, y, "事件描述：", fontsize=9, weight="bold")
    for line in _wrap(slip.description, 44)[:5]:
        fig.text(0.19, y, line, fontsize=9)
        y -= 0.022
    return y - 0.01


_COLUMNS = (("序号", 0.08), ("环节", 0.12), ("状态", 0.22), ("办理人", 0.34),
            ("角色 / 部门", 0.44), ("时间", 0.58), ("备注", 0.78))  # fmt: skip
_WIDTHS = (4, 9, 10, 8, 12, 26, 13)  # characters per column line


def _steps(fig: Figure, steps: list[SlipStep], y: float) -> float:
    fig.text(0.08, y, "处理记录", fontsize=11, weight="bold")
    y -= 0.03
    for label, x in _COLUMNS:
        fig.text(x, y, label, fontsize=8, weight="bold")
    fig.add_artist(_line(y - 0.006))
    y -= _ROW_H
    for s in steps:
        role = s.role + (f" / {s.department}" if s.department else "")
        cells = (str(s.seq), s.action, s.state, s.who, role, s.at, s.note or "")
        wrapped = [_wrap(c, w)[:2] for c, w in zip(cells, _WIDTHS, strict=True)]
        for (_, x), lines in zip(_COLUMNS, wrapped, strict=True):
            for k, line in enumerate(lines):
                fig.text(x, y - k * 0.013, line, fontsize=7)
        y -= _ROW_H
    return y


def _line(y: float):
    from matplotlib.lines import Line2D

    return Line2D([0.08, 0.92], [y, y], lw=0.6, color="black")


def _signatures(fig: Figure, *, date_end: float = 0.92) -> None:
    y = 0.17
    fig.text(0.08, y + 0.03, "签字确认", fontsize=11, weight="bold")
    for label in SIGNATURES:
        fig.text(0.08, y, f"{label}签字：", fontsize=9)
        fig.add_artist(_sign_line(0.30, 0.56, y - 0.003))
        fig.text(0.58, y, "日期：", fontsize=9)
        fig.add_artist(_sign_line(0.64, date_end, y - 0.003))
        y -= 0.04


QR_SIDE_CM = 3.0


def _rating_qr(fig: Figure, url: str) -> None:
    """The rating link as a QR code (dark modules as vector squares) with its text."""
    import segno
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    rows = [list(r) for r in segno.make(url, error="m").matrix_iter(scale=1, border=4)]
    n = len(rows)
    width_in, height_in = fig.get_size_inches()
    side_in = QR_SIDE_CM / 2.54
    x0, y0 = 0.92 - side_in / width_in, 0.055
    ax = fig.add_axes((x0, y0, side_in / width_in, side_in / height_in))
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.axis("off")
    squares = []
    for y, row in enumerate(rows):
        x = 0
        while x < n:  # one rectangle per run of dark modules
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                squares.append(Rectangle((start, y), x - start, 1))
            else:
                x += 1
    ax.add_collection(PatchCollection(squares, facecolor="black", edgecolor="none"))
    fig.text(x0 - 0.01, y0 + 0.5 * side_in / height_in, "扫码评价\n满意度", ha="right",
             va="center", fontsize=9)  # fmt: skip
    fig.text(0.92, y0 - 0.012, f"满意度评价（仅限一次）：{url}", ha="right", va="top", fontsize=6)


def _sign_line(x0: float, x1: float, y: float):
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], lw=0.6, color="black")


def render_feedback_slip(slip: Slip, out: str | Path) -> Path:
    """Write the 信息反馈单 of ``slip`` as an A4 PDF (several pages for a long history, the
    signature lines on the last); return the path."""
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise InputError(f"信息反馈单须为 .pdf / the slip is a .pdf, not {out.name}")
    chunks = [
        slip.steps[i : i + _STEPS_PER_PAGE] for i in range(0, len(slip.steps), _STEPS_PER_PAGE)
    ] or [[]]
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PdfPages(out, metadata={"Title": f"{slip.title} {slip.incident_id}"}) as pdf:
            for n, chunk in enumerate(chunks, start=1):
                fig = Figure(figsize=PAPER_IN["A4"])
                _header(fig, slip, n, len(chunks))
                y = _fields(fig, slip) if n == 1 else 0.88
                _steps(fig, chunk, y)
                if n == len(chunks):
                    if slip.rating_url:
                        _signatures(fig, date_end=0.74)
                        _rating_qr(fig, slip.rating_url)
                    else:
                        _signatures(fig)
                pdf.savefig(fig)
    check_glyph_warnings(caught)
    return out
