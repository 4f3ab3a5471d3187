"""Notice boards (网格公示牌): one printed page per grid, for the wall of the grid.

Each board has the grid's code (as text) and name, its map with the neighbours greyed, every
active staff member serving it (photo, role, name, 工号, phone, their own duties), the
street's supervision phone (监督电话), a QR code to the public page opening on that grid
(``<public_url>/public?grid=<code>``), the service scope and the incident service flow.

A field nobody has filled in prints as a blank line to write on by hand (:data:`BLANK`), so a
board can go up on the wall at once; ``draft=True`` prints 待填 instead, for proof-reading.
A phone the staff member has not agreed to publish prints as :data:`NOT_PUBLISHED`.

Rendered with matplotlib (fonts and page set-up shared with :mod:`maps.print`); the QR code
is drawn as vector squares (sharp at any zoom or printer resolution) from ``segno``'s module
matrix.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import segno
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from gis.crs import metric_crs
from gis.errors import InputError
from maps.base import OSM_ATTRIBUTION
from maps.colouring import colour_grids
from maps.print import (
    _HALO,
    _NEIGHBOUR_GREY,
    PAPER_IN,
    _clip_roads,
    _format,
    _metric,
    _north_arrow,
    _padded_bounds,
    _page,
    _scale_bar,
    check_glyph_warnings,
    cjk_style,
)
from maps.web import TO_FILL

__all__ = [
    "BLANK",
    "FLOW_STEPS",
    "NOT_PUBLISHED",
    "QR_MIN_CM",
    "board_staff",
    "grid_public_url",
    "print_boards",
]

FLOW_STEPS = ("发现登记", "反馈岗位责任人", "处置/上报", "签收处置", "办结")
BLANK = "________________"
"""Printed for a missing field: a line to fill in by hand."""
NOT_PUBLISHED = "不公开"
"""Printed for a phone its owner has not agreed to publish."""
QR_MIN_CM = 3.0
"""The printed QR symbol (without its quiet zone) is at least this wide."""
_QR_SIDE_IN = 1.8  # the QR code's square, quiet zone included (4.6 cm)
_ROLE_ORDER = {
    "网格长": 0,
    "专职网格员": 1,
    "网格员": 1,
    "网格警员（社区民警）": 2,
    "网格指导员": 3,
    "兼职网格员": 4,
    "岗位责任人": 5,
}
_STAFF_TOP, _STAFF_BOTTOM = 0.475, 0.17  # figure fractions of the staff list
_DUTY_CHARS = 46  # characters per duties line (CJK, 8.5 pt, the text column's width)


def grid_public_url(public_url: str, code: str) -> str:
    """The public page opening on grid ``code``: ``<public_url>/public?grid=<code>``.

    >>> grid_public_url("https://wg.example.cn/", "310101002005001")
    'https://wg.example.cn/public?grid=310101002005001'
    """
    return f"{public_url.rstrip('/')}/public?grid={quote(str(code), safe='')}"


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "是", "t", "y"}


def board_staff(staff: pd.DataFrame | None, code: str, *, draft: bool = False) -> list[dict]:
    """The people printed on grid ``code``'s board, by role (网格长 first), then as given.

    Each: ``name``, ``role``, ``staff_no``, ``phone`` (:data:`NOT_PUBLISHED` where
    ``phone_published`` is false), ``duties`` and ``photo`` (an existing image file or None);
    a missing field is :data:`BLANK` (``draft``: 待填). A grid with nobody gets one row of
    blanks, to be filled in by hand.
    """
    missing = TO_FILL if draft else BLANK
    rows: list[dict] = []
    if staff is not None and len(staff) and "grid_code" in staff.columns:
        mine = staff[staff["grid_code"].astype(str) == str(code)]
        for record in mine.to_dict("records"):
            phone = _text(record.get("phone"))
            if phone is not None and not _truthy(record.get("phone_published", True)):
                phone = NOT_PUBLISHED
            photo = _text(record.get("photo"))
            photo_file = Path(photo) if photo is not None else None
            if photo_file is not None and not photo_file.is_file():
                photo_file = None
            rows.append(
                {
                    "name": _text(record.get("name")) or missing,
                    "role": _text(record.get("role")) or missing,
                    "staff_no": _text(record.get("staff_no")) or missing,
                    "phone": phone or missing,
                    "duties": _text(record.get("duties")) or missing,
                    "photo": photo_file,
                }
            )
    rows.sort(key=lambda r: _ROLE_ORDER.get(r["role"], 9))  # stable: same role keeps order
    if not rows:
        rows.append(
            {k: missing for k in ("name", "role", "staff_no", "phone", "duties")} | {"photo": None}
        )
    return rows


def _qr(fig: Figure, url: str, rect: tuple[float, float, float, float]) -> None:
    """Draw the QR code of ``url`` (error correction M, 4-module quiet zone) in ``rect``."""
    qr = segno.make_qr(url, error="m")
    matrix = np.array([list(row) for row in qr.matrix_iter(border=4)], dtype=bool)
    n = matrix.shape[0]
    ax = fig.add_axes(rect)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(Rectangle((0, 0), n, n, facecolor="white", edgecolor="none"))
    verts: list[tuple[float, float]] = []
    codes: list[int] = []
    for y, x in zip(*np.nonzero(matrix), strict=True):
        verts += [(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1), (x, y)]
        codes += [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor="black", edgecolor="black", lw=0.01))


def _flow_chart(fig: Figure, rect: tuple[float, float, float, float]) -> None:
    ax = fig.add_axes(rect)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.text(0, 0.95, "事件办理流程 Incident service flow", fontsize=10, weight="bold", va="top")
    n = len(FLOW_STEPS)
    width = 0.9 / n
    for i, step in enumerate(FLOW_STEPS):
        x = 0.02 + i * (1 / n)
        ax.add_patch(
            FancyBboxPatch(
                (x, 0.1),
                width * 0.92,
                0.45,
                boxstyle="round,pad=0.01,rounding_size=0.03",
                facecolor="#e8f1fa",
                edgecolor="#2166ac",
                lw=1,
            )
        )
        ax.text(x + width * 0.46, 0.32, step, ha="center", va="center", fontsize=8)
        if i < n - 1:
            ax.add_patch(
                FancyArrowPatch(
                    (x + width * 0.93, 0.32),
                    (x + 1 / n - 0.005, 0.32),
                    arrowstyle="-|>",
                    mutation_scale=10,
                    color="#2166ac",
                )
            )


def _grid_map(fig: Figure, grids_m: gpd.GeoDataFrame, idx: Any, *, code: str, name: str,
              colour: str, boundary_m, roads_m) -> None:  # fmt: skip
    ax = fig.add_axes((0.06, 0.535, 0.55, 0.33))
    geom = grids_m.loc[idx].geometry
    bounds = _padded_bounds(gpd.GeoSeries([geom]), pad=0.35)
    others = grids_m.drop(index=idx)
    if roads_m is not None and len(roads_m):
        gpd.clip(roads_m, bounds).plot(ax=ax, color="#8c8c8c", linewidth=0.5, zorder=2)
    if len(others):
        others.plot(ax=ax, color=_NEIGHBOUR_GREY, edgecolor="#999999", linewidth=0.6, zorder=1)
    gpd.GeoSeries([geom], crs=grids_m.crs).plot(
        ax=ax, color=colour, edgecolor="#222222", linewidth=1.5, alpha=0.9, zorder=3
    )
    if boundary_m is not None:
        boundary_m.boundary.plot(ax=ax, color="#b2182b", linewidth=1.2, zorder=4)
    point = geom.representative_point()
    ax.text(point.x, point.y, f"{name}\n{code}", ha="center", va="center", fontsize=8,
            zorder=10, path_effects=_HALO)  # fmt: skip
    ax.set_aspect("equal")
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, fontsize=7)
    _north_arrow(ax, size=0.08)


def _photo(fig: Figure, rect: tuple[float, float, float, float], photo: Path | None,
           draft: bool) -> None:  # fmt: skip
    ax = fig.add_axes(rect)
    ax.set_xticks([])
    ax.set_yticks([])
    if photo is not None:
        ax.imshow(matplotlib.image.imread(photo))
        ax.set_aspect("auto")
    else:
        label = f"照片\n{TO_FILL}" if draft else "照片"
        ax.text(0.5, 0.5, label, ha="center", va="center", fontsize=7, color="#888888",
                transform=ax.transAxes)  # fmt: skip


def _staff_list(fig: Figure, people: list[dict], *, paper_wh: tuple[float, float],
                draft: bool) -> None:  # fmt: skip
    fig.text(0.06, _STAFF_TOP + 0.02, "网格工作人员 Grid staff", fontsize=11, weight="bold",
             va="top")  # fmt: skip
    step = min(0.075, (_STAFF_TOP - _STAFF_BOTTOM) / len(people))
    w_in, h_in = paper_wh
    photo_h = step * 0.88
    photo_w = photo_h * h_in * 0.8 / w_in  # a 4:5 portrait
    size = 10 if step >= 0.05 else 8.5
    duty_lines = 2 if step >= 0.045 else 1
    for i, person in enumerate(people):
        top = _STAFF_TOP - i * step
        _photo(fig, (0.06, top - photo_h, photo_w, photo_h), person["photo"], draft)
        x = 0.06 + photo_w + 0.015
        fig.text(
            x, top - 0.002,
            f"{person['role']}：{person['name']}    工号 No.：{person['staff_no']}    "
            f"电话 Phone：{person['phone']}",
            fontsize=size, va="top",
        )  # fmt: skip
        wrapped = textwrap.wrap(person["duties"], _DUTY_CHARS) or [person["duties"]]
        if len(wrapped) > duty_lines:
            wrapped = [*wrapped[: duty_lines - 1], wrapped[duty_lines - 1][:-1] + "…"]
        for j, line in enumerate(wrapped):
            label = "职责 Duties：" if j == 0 else "　　　　　　"
            fig.text(x, top - 0.022 - j * 0.016, f"{label}{line}", fontsize=size - 1.5, va="top")


def _board(
    fig: Figure,
    grids_m: gpd.GeoDataFrame,
    idx: Any,
    *,
    colours: pd.Series,
    boundary_m: gpd.GeoDataFrame | None,
    roads_m: gpd.GeoDataFrame | None,
    staff: pd.DataFrame | None,
    community_name: str,
    code_field: str,
    osm_drawn: bool,
    public_url: str | None,
    supervision_phone: str | None,
    draft: bool,
    paper_wh: tuple[float, float],
) -> None:
    row = grids_m.loc[idx]
    code = str(row[code_field])
    name = str(row.get("name", "") or "")
    missing = TO_FILL if draft else BLANK
    fig.text(0.5, 0.975, f"{community_name} 网格公示牌", ha="center", va="top", fontsize=14)
    fig.text(0.5, 0.945, name, ha="center", va="top", fontsize=22, weight="bold")
    fig.text(0.5, 0.905, f"网格编码 Grid code: {code}", ha="center", va="top", fontsize=11)
    _grid_map(fig, grids_m, idx, code=code, name=name, colour=colours.loc[idx],
              boundary_m=boundary_m, roads_m=roads_m)  # fmt: skip

    w_in, h_in = paper_wh
    x_right = 0.66
    phone_top = 0.615
    if public_url:
        url = grid_public_url(public_url, code)
        side_w, side_h = _QR_SIDE_IN / w_in, _QR_SIDE_IN / h_in
        _qr(fig, url, (x_right, 0.865 - side_h, side_w, side_h))
        under = 0.865 - side_h - 0.008
        fig.text(x_right, under, "扫码查看本网格\nScan: this grid online", fontsize=8, va="top")
        fig.text(x_right, under - 0.035, "\n".join(textwrap.wrap(url, 38)), fontsize=6,
                 va="top", color="#444444")  # fmt: skip
        phone_top = min(phone_top, under - 0.08)  # below the caption (landscape: lower)
    fig.text(x_right, phone_top, "监督电话 Supervision phone", fontsize=10, weight="bold",
             va="top")  # fmt: skip
    fig.text(x_right, phone_top - 0.025, supervision_phone or missing, fontsize=14, va="top")

    households = row.get("households")
    households = missing if households is None or pd.isna(households) else f"{int(households)} 户"
    fig.text(
        0.06, 0.525,
        f"服务范围 Scope：{name}（{code}），面积约 {float(row.geometry.area) / 10_000:.1f} 公顷，"
        f"服务户数 {households}",
        fontsize=9, va="top",
    )  # fmt: skip
    _staff_list(fig, board_staff(staff, code, draft=draft), paper_wh=paper_wh, draft=draft)
    _flow_chart(fig, (0.05, 0.05, 0.9, 0.1))
    note = "地图：社区网格划分数据" + (f"；道路 {OSM_ATTRIBUTION}" if osm_drawn else "")
    if draft:
        note = "草稿 DRAFT（待填项须补全后再张贴）  " + note
    fig.text(0.06, 0.02, note, fontsize=7, va="bottom")


def print_boards(
    grids: gpd.GeoDataFrame,
    *,
    staff: pd.DataFrame | None = None,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    roads: gpd.GeoDataFrame | None = None,
    community_name: str,
    out: str | Path,
    paper: str = "A4",
    landscape: bool = False,
    roads_from_osm: bool = True,
    code_field: str = "code",
    dpi: int = 150,
    public_url: str | None = None,
    supervision_phone: str | None = None,
    draft: bool = False,
) -> list[Path]:
    """Print one notice board (网格公示牌) per grid in grid-code order; return the paths.

    ``out`` ending in ``.pdf`` gives one multi-page PDF, the first page being the first
    grid's board; ``.png`` gives one file per grid, ``<stem>-<grid code>.png`` beside ``out``.

    Parameters
    ----------
    staff : DataFrame, optional
        One row per (person, grid served): ``grid_code``, ``name``, ``role``, ``phone``,
        ``phone_published``, and optionally ``staff_no``, ``duties``, ``photo`` (an image
        file). Every row of a grid is printed on its board.
    public_url : str, optional
        Where the public page is served (``https://host[/prefix]``): each board gets a QR code
        of ``<public_url>/public?grid=<code>``, at least :data:`QR_MIN_CM` wide. None: no QR.
    supervision_phone : str, optional
        The street's supervision phone (监督电话); None prints a blank line.
    draft : bool, default False
        Print 待填 for missing fields instead of a blank line (a proof, not for the wall).
    """
    out = Path(out)
    fmt = _format(out)
    if not len(grids):
        raise InputError("没有网格可打印 / no grids to print")
    crs = metric_crs(grids)
    grids_m = grids.to_crs(crs)
    boundary_m = (
        None if boundary is None else _metric(gpd.GeoDataFrame(geometry=boundary.geometry), crs)
    )
    roads_m = _clip_roads(roads, _padded_bounds(grids_m.geometry, pad=0.3), crs)
    osm_drawn = roads_m is not None and len(roads_m) > 0 and roads_from_osm
    colours = colour_grids(grids)
    order = grids_m.index[np.argsort(grids_m[code_field].astype(str).to_numpy(), kind="stable")]
    w, h = PAPER_IN.get(paper, PAPER_IN["A4"])
    out.parent.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    kwargs = dict(
        colours=colours,
        boundary_m=boundary_m,
        roads_m=roads_m,
        staff=staff,
        community_name=community_name,
        code_field=code_field,
        osm_drawn=osm_drawn,
        public_url=public_url,
        supervision_phone=_text(supervision_phone),
        draft=draft,
        paper_wh=(h, w) if landscape else (w, h),
    )
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fmt == "pdf":
            with PdfPages(out) as pdf:
                for idx in order:
                    fig = _page(paper, landscape)
                    _board(fig, grids_m, idx, **kwargs)
                    pdf.savefig(fig)
            paths.append(out)
        else:
            for idx in order:
                fig = _page(paper, landscape)
                _board(fig, grids_m, idx, **kwargs)
                path = out.with_name(f"{out.stem}-{grids_m.loc[idx, code_field]}.png")
                fig.savefig(path, format="png", dpi=dpi)
                paths.append(path)
    check_glyph_warnings(caught)
    return paths
