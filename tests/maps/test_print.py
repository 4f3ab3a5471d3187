"""Printed division diagram, checked through poppler (pdftoppm, pdftotext, pdffonts).

The notice boards are tests/maps/test_boards.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gis.osm import read_osm_layers
from maps.print import print_division
from tests.maps.conftest import DEMO

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


BASELINES = Path(__file__).resolve().parent / "baselines"
UPDATE_ENV = "WANGGE_UPDATE_BASELINES"  # set to 1 to rewrite the baseline images


def _compare_with_baseline(png: Path, name: str) -> None:
    """Per-pixel comparison with ``baselines/<name>``: mean absolute difference under 1.5 grey
    levels and under 0.5 % of pixels off by more than 40 (antialiasing noise passes, a moved
    label, a missing layer or another colour does not)."""
    baseline = BASELINES / name
    if os.environ.get(UPDATE_ENV) == "1":
        baseline.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, baseline)
    assert baseline.is_file(), f"no baseline {baseline}; run with {UPDATE_ENV}=1 to make it"
    got = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    want = np.asarray(Image.open(baseline).convert("RGB"), dtype=float)
    assert got.shape == want.shape
    diff = np.abs(got - want).max(axis=2)
    assert diff.mean() < 1.5 and (diff > 40).mean() < 0.005, (diff.mean(), (diff > 40).mean())


@pytest.mark.parametrize(
    ("paper", "landscape", "name"),
    [("A4", False, "division_a4.png"), ("A3", True, "division_a3_landscape.png")],
)
def test_division_matches_baseline(tmp_path, demo_grids, demo_boundary, paper, landscape, name):
    base = read_osm_layers([DEMO / "osm_bund.gpkg"])
    out = print_division(
        demo_grids,
        demo_boundary,
        base=base,
        community_name="外滩源社区",
        out=tmp_path / name,
        paper=paper,
        landscape=landscape,
        date="2026-11-25",
        dpi=60,
    )
    _compare_with_baseline(out, name)


def test_baseline_comparison_catches_a_changed_print(tmp_path, demo_grids, demo_boundary):
    out = print_division(
        demo_grids,
        demo_boundary,
        community_name="外滩源社区",  # no base map: roads, water and buildings are missing
        out=tmp_path / "division_a4.png",
        date="2026-11-25",
        dpi=60,
    )
    with pytest.raises(AssertionError):
        _compare_with_baseline(out, "division_a4.png")
