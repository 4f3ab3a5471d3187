"""Write a community's monthly appraisal (绩效) to XLSX or a printable Chinese PDF.

XLSX sheets: ``绩效`` (one row per worker: components, score, survey result with its Wilson
95 % interval and response count), ``奖惩`` (rewards and accountability records) and
``权重`` (the weights used). The PDF (A4 landscape, Noto Sans CJK as :mod:`maps.print`) has
the same tables with the formula as subtitle.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages

from api.services.assessment.report import table_page, write_sheets
from gis.errors import InputError
from maps.print import check_glyph_warnings, cjk_style

__all__ = ["APPRAISAL_COLUMNS", "REPORT_TITLE", "appraisal_table", "write_appraisal"]

REPORT_TITLE = "网格工作人员月度绩效"
APPRAISAL_COLUMNS = (
    "姓名", "工号", "角色", "网格", "社区考核", "按时办结率", "巡查达标率", "满意率",
    "绩效得分", "缺项", "民意测评满意率", "95%区间", "测评份数", "奖励", "问责",
)  # fmt: skip
_ROLE_ZH = {"grid_leader": "网格长", "grid_worker": "专职网格员", "grid_police": "网格警员",
            "grid_instructor": "网格指导员", "part_time_worker": "兼职网格员",
            "post_staff": "岗位责任人"}  # fmt: skip
_COMPONENT_ZH = {"assessment": "社区考核", "on_time": "按时办结率", "patrol": "巡查达标率",
                 "satisfaction": "满意率"}  # fmt: skip


def _num(value: float | None) -> float | str:
    return "—" if value is None else value


def _interval(survey: dict[str, Any]) -> str:
    if not survey["responses"]:
        return "—"
    return f"{100 * survey['wilson_low']:.1f}%–{100 * survey['wilson_high']:.1f}%"


def appraisal_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per worker with the Chinese columns :data:`APPRAISAL_COLUMNS`."""
    rows = []
    for w in result["workers"]:
        c, s = w["components"], w["survey"]
        rows.append(
            [w["name"], w["staff_no"] or "", _ROLE_ZH.get(w["role"], w["role"]),
             "、".join(w["grids"]), _num(c["assessment"]), _num(c["on_time"]),
             _num(c["patrol"]), _num(c["satisfaction"]), _num(w["score"]),
             "、".join(_COMPONENT_ZH[m] for m in w["missing"]),
             "—" if s["share"] is None else round(100 * s["share"], 1), _interval(s),
             s["responses"], len(w["rewards"]), len(w["accountability"])]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(APPRAISAL_COLUMNS))


def _records_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = [
        [r["staff_name"], r["kind_zh"], r["reason"], r["decided_by"], r["decided_on"]]
        for w in result["workers"]
        for r in (*w["rewards"], *w["accountability"])
    ]
    return pd.DataFrame(rows, columns=["姓名", "类型", "事由", "决定人", "决定日期"])


def _weights_table(result: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [[_COMPONENT_ZH[k], v] for k, v in result["weights"].items()], columns=["组成", "权重(%)"]
    )


def _formula(result: dict[str, Any]) -> str:
    parts = " + ".join(f"{v:g}%×{_COMPONENT_ZH[k]}" for k, v in result["weights"].items())
    return f"绩效 = {parts}（缺项不计，其余按权重折算）；满意率 = (满意 + 基本满意) ÷ 评价数"


def write_appraisal(result: dict[str, Any], out: Path | str) -> Path:
    """Write ``result`` (:func:`api.services.appraisal.service.appraise`) to ``out``
    (.xlsx/.pdf)."""
    out = Path(out)
    ext = out.suffix.lower()
    if ext not in (".xlsx", ".pdf"):
        raise InputError(f"输出文件须为 .xlsx 或 .pdf / out must end in .xlsx or .pdf: {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{result['community']['name']} {result['month']} {REPORT_TITLE}"
    table = appraisal_table(result)
    if ext == ".xlsx":
        write_sheets(
            {"绩效": table, "奖惩": _records_table(result), "权重": _weights_table(result)}, out
        )
        return out
    assessment = result["assessment"]
    note = (
        f"社区考核得分 {assessment['total']:g}"
        if assessment["complete"]
        else "社区考核未完成：" + "；".join(assessment["missing"])
    )
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PdfPages(out, metadata={"Title": title}) as pdf:
            table_page(pdf, title, table.drop(columns=["网格"]),
                       subtitle=f"{_formula(result)}\n{note[:120]}")  # fmt: skip
            table_page(pdf, f"{title} · 奖励与问责", _records_table(result))
    check_glyph_warnings(caught)
    return out
