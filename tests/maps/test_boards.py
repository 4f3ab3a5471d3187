"""Notice boards, read back from the printed PDF/PNG with poppler (pdftotext, pdftoppm) and an
independent QR decoder (zxing-cpp, not the segno that drew the codes)."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import zxingcpp
from PIL import Image

from maps.boards import BLANK, FLOW_STEPS, NOT_PUBLISHED, QR_MIN_CM, grid_public_url, print_boards

pytestmark = pytest.mark.slow  # runs in CI: needs poppler-utils

PUBLIC = "https://wangge.example.cn/sub"
DPI = 200


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def page_text(pdf, page: int) -> str:
    """The text of one page, lines joined (pdftotext -layout keeps a line's pieces apart)."""
    return _run("pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-")


def page_png(pdf, page: int, folder, dpi: int = DPI):
    stem = folder / f"page{page}"
    _run("pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile",
         str(pdf), str(stem))  # fmt: skip
    return stem.with_suffix(".png")


def decode_qr(png) -> list[tuple[str, float]]:
    """(text, width in pixels) of every QR code zxing-cpp finds in ``png``."""
    found = zxingcpp.read_barcodes(Image.open(png).convert("L"))
    out = []
    for code in found:
        if code.format != zxingcpp.BarcodeFormat.QRCode:
            continue
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        out.append((code.text, float(max(xs) - min(xs))))
    return out


def pages(pdf) -> int:
    info = _run("pdfinfo", str(pdf))
    return int(next(ln.split()[1] for ln in info.splitlines() if ln.startswith("Pages:")))


@pytest.fixture(scope="module")
def staff_frame() -> pd.DataFrame:
    """Three people on grid 001 (one with an unpublished phone, one without a staff number
    or duties), one on 002; other grids have nobody."""
    return pd.DataFrame(
        {
            "grid_code": ["310101002005001"] * 3 + ["310101002005002"],
            "name": ["张晓明", "李红", "赵强", "王建国"],
            "role": ["专职网格员", "网格长", "网格警员（社区民警）", "网格长"],
            "phone": ["13800000001", "13800000002", "13800000003", None],
            "phone_published": [True, True, False, True],
            "staff_no": ["WG001", None, "JW017", "WG003"],
            "duties": ["巡查九江路沿线", None, "治安与流动人口管理", "统筹第2网格"],
        }
    )


@pytest.fixture(scope="module")
def boards(tmp_path_factory, demo_grids, demo_boundary, staff_frame):
    out = tmp_path_factory.mktemp("boards") / "boards.pdf"
    print_boards(
        demo_grids, staff=staff_frame, boundary=demo_boundary, community_name="外滩源社区",
        out=out, public_url=PUBLIC, supervision_phone="021-63291234",
    )  # fmt: skip
    return out


def test_one_page_per_grid_first_page_is_a_board(boards, demo_grids):
    assert pages(boards) == len(demo_grids)
    first = page_text(boards, 1)
    assert sorted(demo_grids["code"])[0] in first  # no index page before the boards


def test_each_page_names_its_staff_and_code(boards, demo_grids, staff_frame):
    for page, code in enumerate(sorted(demo_grids["code"]), start=1):
        text = page_text(boards, page)
        flat = text.replace("\n", "").replace(" ", "")
        assert f"网格编码 Grid code: {code}" in text
        for step in FLOW_STEPS:
            assert step in flat
        assert "021-63291234" in text
        mine = staff_frame[staff_frame["grid_code"] == code]
        others = staff_frame[staff_frame["grid_code"] != code]
        for row in mine.itertuples():
            assert row.name in text
            if isinstance(row.staff_no, str):
                assert row.staff_no in text
            if isinstance(row.duties, str):
                assert row.duties in flat
        for name in set(others["name"]) - set(mine["name"]):
            assert name not in text
        assert "待填" not in text  # production print: blanks, never placeholders
        if mine.empty:
            assert BLANK in text  # a row of blank lines to fill in by hand


def test_unpublished_phone_and_missing_fields(boards):
    text = page_text(boards, 1)
    assert "13800000001" in text and "13800000002" in text
    assert "13800000003" not in text and NOT_PUBLISHED in text  # the police officer's
    assert text.count(BLANK) >= 2  # 李红's staff number and duties
    leader = text.index("李红")
    assert leader < text.index("张晓明") < text.index("赵强")  # 网格长 first


def test_qr_decodes_to_the_grid_public_url_and_is_wide_enough(boards, demo_grids, tmp_path):
    for page, code in enumerate(sorted(demo_grids["code"])[:3], start=1):
        found = decode_qr(page_png(boards, page, tmp_path))
        assert [text for text, _ in found] == [f"{PUBLIC}/public?grid={code}"]
        width_cm = found[0][1] / DPI * 2.54
        assert width_cm >= QR_MIN_CM, width_cm


def test_without_public_url_no_qr_and_draft_shows_placeholders(tmp_path, demo_grids):
    two = demo_grids.sort_values("code").iloc[:2]
    out = tmp_path / "draft.pdf"
    print_boards(two, community_name="外滩源社区", out=out, draft=True)
    assert decode_qr(page_png(out, 1, tmp_path)) == []
    text = page_text(out, 1)
    assert "待填" in text and BLANK not in text and "草稿" in text


def test_png_one_file_per_grid(tmp_path, demo_grids):
    two = demo_grids.iloc[:2]
    paths = print_boards(
        two, community_name="外滩源社区", out=tmp_path / "board.png", dpi=120, public_url=PUBLIC
    )
    assert [p.name for p in paths] == [f"board-{c}.png" for c in sorted(two["code"])]
    for path, code in zip(paths, sorted(two["code"]), strict=True):
        grey = np.asarray(Image.open(path).convert("L"))
        assert (grey < 245).mean() > 0.05
        assert [t for t, _ in decode_qr(path)] == [grid_public_url(PUBLIC, code)]


@pytest.mark.parametrize(
    ("base", "code", "expected"),
    [
        ("https://a.cn", "310101002005001", "https://a.cn/public?grid=310101002005001"),
        ("https://a.cn/", "001", "https://a.cn/public?grid=001"),
        ("http://h:8000/wg/", "A B", "http://h:8000/wg/public?grid=A%20B"),
    ],
)
def test_grid_public_url(base, code, expected):
    assert grid_public_url(base, code) == expected
