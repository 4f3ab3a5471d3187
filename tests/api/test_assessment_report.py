"""The assessment report: XLSX read back with openpyxl, PDF read back with pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from api.services.assessment import (
    DEPARTMENTS,
    DeptScore,
    PointScore,
    score_community,
    score_sample_point,
)
from api.services.assessment.report import REPORT_TITLE, write_report
from gis.errors import InputError
from tests.api.test_assessment_scoring import LI_SPOT, REGISTRY, SPOT, ZHANG_SPOT


@pytest.fixture(scope="module")
def scores():
    wrong = replace(
        SPOT,
        use="出租",
        residents=(replace(ZHANG_SPOT, phone="13800000000"), replace(LI_SPOT, education="研究生")),
    )
    points = [
        score_sample_point(REGISTRY, wrong),  # 4.5
        score_sample_point(None, replace(SPOT, house_key="H404")),  # 0
        *[PointScore(f"H1{i}", None, 6.0, (), True) for i in range(8)],
    ]
    depts = [DeptScore(code, 8, f"{name}：按时完成") for code, name in DEPARTMENTS.items()]
    a = score_community(depts, points, community="九江社区", month="2024-05")
    b = score_community(
        depts, [PointScore(f"H{i}", None, 6.0, (), True) for i in range(10)],
        community="汉口社区", month="2024-05",
    )  # fmt: skip
    return [a, b]


def test_xlsx_has_ranking_departments_and_every_deduction(scores, tmp_path: Path) -> None:
    out = write_report(scores, tmp_path / "assess.xlsx")
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames[:3] == ["排名", "扣分明细", "部门评分"]

    ranking = list(wb["排名"].values)
    header = ranking[0]
    rows = [dict(zip(header, r, strict=True)) for r in ranking[1:]]
    # 汉口: 40 + 60 = 100; 九江: 40 + 4.5 + 0 + 8 × 6 = 92.5
    assert [(r["社区"], r["排名"], r["总分(100)"]) for r in rows] == [
        ("汉口社区", 1, 100), ("九江社区", 2, 92.5),
    ]  # fmt: skip

    values = list(wb["扣分明细"].values)
    deductions = [dict(zip(values[0], r, strict=True)) for r in values[1:]]
    assert len(deductions) == 4
    by_field = {d["字段"]: d for d in deductions}
    assert by_field["房屋用途"]["系统登记值"] == "自住"
    assert by_field["房屋用途"]["实地采集值"] == "出租"
    assert by_field["文化程度"]["记录"] == "李梅"
    assert by_field["文化程度"]["实地采集值"] == "研究生"
    assert by_field["联系电话"]["系统登记值"] == "138****5678"  # masked by default
    assert by_field["房屋登记"]["实扣分"] == 6
    assert sum(d["实扣分"] for d in deductions) == pytest.approx(7.5)

    depts = list(wb["部门评分"].values)
    assert len(depts) == 1 + 2 * 5
    assert "社会事务中心：按时完成" in [r[5] for r in depts]


def test_xlsx_unmasked_for_the_archive(scores, tmp_path: Path) -> None:
    out = write_report(scores, tmp_path / "full.xlsx", mask=False)
    values = list(load_workbook(out, read_only=True)["扣分明细"].values)
    assert ("13812345678", "13800000000") in [(r[8], r[9]) for r in values[1:]]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_has_the_chinese_title_and_deductions(scores, tmp_path: Path) -> None:
    out = write_report(scores, tmp_path / "assess.pdf")
    assert out.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, check=True, text=True
    ).stdout
    compact = "".join(text.split())
    assert REPORT_TITLE in compact
    assert "九江社区" in compact and "汉口社区" in compact
    assert "扣分明细" in compact and "研究生" in compact and "自住" in compact


def test_unknown_extension_and_empty_input_are_refused(scores, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.xlsx or \.pdf"):
        write_report(scores, tmp_path / "a.csv")
    with pytest.raises(InputError, match="no assessment"):
        write_report([], tmp_path / "a.xlsx")
