"""Write the monthly assessment's results to XLSX or PDF (Chinese), chosen by extension.

XLSX sheets: ``排名`` (ranking), ``部门评分`` (department scores with reasons), ``样本点``
(one row per sample point) and ``扣分明细`` (every deduction: community, household, rule,
record, field, registry value, field value, the rule's points and the points charged, note).
The PDF has a title page with the ranking, then per community its department scores, sample
points and deductions, paged as needed.

ID numbers and phone numbers among the listed values are masked by default
(:func:`api.services.registry.mask_id_number` / ``mask_phone``: resident data is confidential,
docs/design.md §2); ``mask=False`` writes them in full for the street's own archive.

PDF fonts: Noto Sans CJK as Type 3 fonts, registered the way :mod:`maps.print` does it (see
that module's docstring for why not Type 42 with the CFF ``.ttc``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from api.services.assessment.community import CommunityScore, rank_communities
from api.services.registry.validators import mask_id_number, mask_phone
from gis.errors import InputError
from maps.print import check_glyph_warnings, cjk_style

__all__ = [
    "DEDUCTION_COLUMNS",
    "RANKING_COLUMNS",
    "REPORT_TITLE",
    "deductions_table",
    "departments_table",
    "points_table",
    "ranking_table",
    "table_page",
    "write_report",
    "write_sheets",
]

REPORT_TITLE = "社区网格化管理月度考核"
RANKING_COLUMNS = {
    "month": "月份",
    "rank": "排名",
    "community": "社区",
    "department_points": "部门评分(40)",
    "sample_points": "样本点(60)",
    "total": "总分(100)",
    "charged_deductions": "扣分项数",
    "note": "说明",
}
DEDUCTION_COLUMNS = {
    "month": "月份",
    "community": "社区",
    "house_key": "房屋编号",
    "address": "门牌号码",
    "rule_zh": "扣分规则",
    "kind_zh": "类型",
    "record": "记录",
    "field_zh": "字段",
    "registry_value": "系统登记值",
    "field_value": "实地采集值",
    "nominal": "规则分值",
    "points": "实扣分",
    "note": "说明",
}
_KIND_ZH = {"missing": "缺失", "wrong": "错误"}
_MASKED_FIELDS = {"id_number": mask_id_number, "phone": mask_phone, "contact_phone": mask_phone}
_ROWS_PER_PAGE = 28


def ranking_table(scores: Sequence[CommunityScore]) -> pd.DataFrame:
    """The ranking with Chinese headers (:data:`RANKING_COLUMNS`)."""
    return rank_communities(scores).rename(columns=RANKING_COLUMNS)


def departments_table(scores: Sequence[CommunityScore]) -> pd.DataFrame:
    """One row per community and department: points and reason."""
    rows = [
        {"月份": s.month, "社区": s.community, "部门代码": d.dept, "部门": d.dept_zh,
         "评分(8)": d.points, "理由": d.reason}
        for s in scores for d in s.departments
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["月份", "社区", "部门代码", "部门", "评分(8)", "理由"])


def points_table(scores: Sequence[CommunityScore]) -> pd.DataFrame:
    """One row per sample point: household, registered or not, points, deductions charged."""
    rows = [
        {"月份": s.month, "社区": s.community, "房屋编号": p.house_key, "门牌号码": p.address,
         "已登记": "是" if p.registered else "否", "得分(6)": p.points, "扣分": p.deducted,
         "扣分项数": sum(1 for d in p.deductions if d.points > 0)}
        for s in scores for p in s.points
    ]  # fmt: skip
    columns = ["月份", "社区", "房屋编号", "门牌号码", "已登记", "得分(6)", "扣分", "扣分项数"]
    return pd.DataFrame(rows, columns=columns)


def _masked(field: str, value: str | None, mask: bool) -> str | None:
    if not mask or value is None or field not in _MASKED_FIELDS:
        return value
    return _MASKED_FIELDS[field](value)


def deductions_table(scores: Sequence[CommunityScore], *, mask: bool = True) -> pd.DataFrame:
    """Every deduction of every sample point, with Chinese headers (:data:`DEDUCTION_COLUMNS`)."""
    rows = []
    for s in scores:
        for p in s.points:
            for d in p.deductions:
                rows.append(
                    {
                        "month": s.month,
                        "community": s.community,
                        "house_key": p.house_key,
                        "address": p.address,
                        "rule_zh": d.rule_zh,
                        "kind_zh": _KIND_ZH.get(d.kind, d.kind),
                        "record": d.record,
                        "field_zh": d.field_zh,
                        "registry_value": _masked(d.field, d.registry_value, mask),
                        "field_value": _masked(d.field, d.field_value, mask),
                        "nominal": d.nominal,
                        "points": d.points,
                        "note": d.note,
                    }
                )
    return pd.DataFrame(rows, columns=list(DEDUCTION_COLUMNS)).rename(columns=DEDUCTION_COLUMNS)


def _check_scores(scores: Sequence[CommunityScore]) -> list[CommunityScore]:
    scores = list(scores)
    if not scores:
        raise InputError("没有可报告的考核结果 / no assessment results to report")
    return scores


def write_sheets(sheets: dict[str, pd.DataFrame], out: Path) -> None:
    """Write each frame of ``sheets`` to its own sheet of the workbook ``out`` (bold shaded
    header, columns sized to their text, header row frozen)."""
    wb = Workbook()
    wb.remove(wb.active)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for name, frame in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            ws.append([None if pd.isna(v) else v for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.alignment = Alignment(horizontal="center")
        for i, column in enumerate(frame.columns, start=1):
            width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)])
            ws.column_dimensions[get_column_letter(i)].width = min(max(8, width * 1.6 + 2), 60)
        ws.freeze_panes = "A2"
    wb.save(out)


def _write_xlsx(scores: list[CommunityScore], out: Path, mask: bool) -> None:
    sheets = {
        "排名": ranking_table(scores),
        "扣分明细": deductions_table(scores, mask=mask),
        "部门评分": departments_table(scores),
        "样本点": points_table(scores),
    }
    write_sheets(sheets, out)


def table_page(pdf: PdfPages, title: str, frame: pd.DataFrame, subtitle: str = "") -> None:
    """Write ``frame`` as one or more A4 landscape pages with a title."""
    pages = max(1, -(-len(frame) // _ROWS_PER_PAGE))
    for page in range(pages):
        chunk = frame.iloc[page * _ROWS_PER_PAGE : (page + 1) * _ROWS_PER_PAGE]
        fig = Figure(figsize=(11.69, 8.27))
        suffix = f"（{page + 1}/{pages}）" if pages > 1 else ""
        fig.text(0.5, 0.96, title + suffix, ha="center", va="top", fontsize=15, weight="bold")
        if subtitle:
            fig.text(0.5, 0.915, subtitle, ha="center", va="top", fontsize=9)
        ax = fig.add_axes((0.03, 0.04, 0.94, 0.84))
        ax.axis("off")
        if len(chunk):
            cells = [["" if pd.isna(v) else str(v) for v in row] for row in chunk.to_numpy()]
            height = min(1.0, (len(chunk) + 1) * 0.034)
            table = ax.table(cellText=cells, colLabels=list(chunk.columns), cellLoc="left",
                             colLoc="center", bbox=(0, 1 - height, 1, height))  # fmt: skip
            table.auto_set_font_size(False)
            table.set_fontsize(8)
            table.auto_set_column_width(list(range(len(chunk.columns))))
            for (r, _), cell in table.get_celld().items():
                if r == 0:
                    cell.set_facecolor("#ddebf7")
        else:
            ax.text(0.5, 0.9, "无 / none", ha="center", fontsize=10)
        pdf.savefig(fig)


def _write_pdf(scores: list[CommunityScore], out: Path, mask: bool) -> None:
    months = sorted({s.month for s in scores if s.month})
    month_text = "、".join(months)
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PdfPages(out, metadata={"Title": f"{REPORT_TITLE} {month_text}".strip()}) as pdf:
            ranking = ranking_table(scores).drop(columns=["说明"])
            notes = "；".join(f"{s.community}：{s.note}" for s in scores if s.note)
            table_page(pdf, f"{REPORT_TITLE} {month_text}".strip(), ranking,
                        subtitle="部门评分 5 × 8 = 40 分（一办四中心）＋ 样本点 10 × 6 = 60 分"
                        + (f"　{notes}" if notes else ""))  # fmt: skip
            for s in scores:
                depts = departments_table([s])[["部门", "评分(8)", "理由"]]
                table_page(pdf, f"{s.community} {s.month} 部门评分", depts,
                            subtitle=f"部门评分合计 {s.department_points:g} / 40")  # fmt: skip
                points = points_table([s]).drop(columns=["月份", "社区"])
                summary = f"样本点合计 {s.sample_points:g} / 60，总分 {s.total:g}"
                table_page(pdf, f"{s.community} {s.month} 样本点", points, subtitle=summary)
                deductions = deductions_table([s], mask=mask).drop(columns=["月份", "社区"])
                table_page(pdf, f"{s.community} {s.month} 扣分明细", deductions)
    check_glyph_warnings(caught)


def write_report(scores: Sequence[CommunityScore], out: Path | str, *, mask: bool = True) -> Path:
    """Write the assessment results to ``out`` (``.xlsx`` or ``.pdf``); return the path.

    Parameters
    ----------
    scores : sequence of CommunityScore
        The communities' scores (one month or several; ranks are per month).
    out : Path
        Output file; its extension picks the format.
    mask : bool
        Mask ID numbers and phone numbers in the deduction list (default True).
    """
    out = Path(out)
    ext = out.suffix.lower()
    if ext not in (".xlsx", ".pdf"):
        raise InputError(f"输出文件须为 .xlsx 或 .pdf / out must end in .xlsx or .pdf: {out}")
    scores = _check_scores(scores)
    out.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".xlsx":
        _write_xlsx(scores, out, mask)
    else:
        _write_pdf(scores, out, mask)
    return out
