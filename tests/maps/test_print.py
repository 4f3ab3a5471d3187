"""Printed division diagram, checked through poppler (pdftoppm, pdftotext, pdffonts).

The notice boards are tests/maps/test_boards.py."""

from __future__ import annotations

import subprocess
import warnings

import numpy as np
import pytest
from PIL import Image

from maps.print import print_division

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
