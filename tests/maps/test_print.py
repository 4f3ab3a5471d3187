"""Printed diagram and notice boards, checked through poppler (pdftoppm, pdftotext, pdffonts)."""

from __future__ import annotations

import subprocess
import warnings

import numpy as np
import pytest
from PIL import Image

from maps.print import FLOW_STEPS, print_boards, print_division

pytestmark = pytest.mark.slow  # runs in CI: needs poppler-utils


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _ink_fraction(png) -> float:
    grey = np.asarray(Image.open(png).convert("L"))
    return float((grey < 245).mean())


def test_division_pdf(tmp_path, demo_grids, demo_boundary, demo_roads):
    out = tmp_path / "division.pdf"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = print_division(
            demo_grids,
            demo_boundary,
            roads=demo_roads,
            community_name="外滩源社区",
            out=out,
            date="2026-11-25",
        )
    assert path == out and out.stat().st_size > 10_000
    assert not [w for w in caught if "missing" in str(w.message).lower()]
    text = _run("pdftotext", "-layout", str(out), "-")
    assert "外滩源社区网格划分示意图" in text
    assert "© OpenStreetMap contributors" in text and "2026-11-25" in text
    for code in demo_grids["code"]:
        assert code in text
    fonts = _run("pdffonts", str(out))
    cjk = [line for line in fonts.splitlines() if "NotoSansCJK" in line]
    assert cjk and all(" yes " in line for line in cjk)  # embedded (column "emb")
    _run("pdftoppm", "-r", "40", "-png", "-singlefile", str(out), str(tmp_path / "page"))
    png = tmp_path / "page.png"
    w, h = Image.open(png).size
    assert h > w  # A4 portrait
    assert _ink_fraction(png) > 0.15


def test_division_png_landscape_a3(tmp_path, demo_grids, demo_boundary):
    out = print_division(
        demo_grids,
        demo_boundary,
        community_name="外滩源社区",
        out=tmp_path / "d.png",
        paper="A3",
        landscape=True,
        dpi=60,
    )
    w, h = Image.open(out).size
    assert (w, h) == (round(16.54 * 60), round(11.69 * 60))
    assert _ink_fraction(out) > 0.05


def test_boards_pdf_one_page_per_grid(tmp_path, demo_grids, demo_staff, demo_boundary):
    out = tmp_path / "boards.pdf"
    paths = print_boards(
        demo_grids, staff=demo_staff, boundary=demo_boundary, community_name="外滩源社区", out=out
    )
    assert paths == [out]
    info = _run("pdfinfo", str(out))
    pages = int(next(ln.split()[1] for ln in info.splitlines() if ln.startswith("Pages:")))
    assert pages == len(demo_grids)
    codes = sorted(demo_grids["code"])
    staffed = set(demo_staff["grid_code"])
    for page, code in enumerate(codes, start=1):
        text = _run("pdftotext", "-f", str(page), "-l", str(page), str(out), "-")
        assert code in text
        for step in FLOW_STEPS:
            assert step in text.replace("\n", "")
        if code in staffed:
            assert "网格员 Name：待填" not in text
        else:
            assert "网格员 Name：待填" in text and "电话 Phone：待填" in text
    first = _run("pdftotext", "-f", "1", "-l", "1", str(out), "-")
    assert "张晓明" in first and "13800000001" in first


def test_boards_png_named_by_grid(tmp_path, demo_grids):
    two = demo_grids.iloc[:2]
    paths = print_boards(two, community_name="外滩源社区", out=tmp_path / "board.png", dpi=40)
    assert [p.name for p in paths] == [f"board-{c}.png" for c in sorted(two["code"])]
    assert all(_ink_fraction(p) > 0.05 for p in paths)
