"""Edits of a grid division that keep its topology: split, merge, move a shared boundary.

Each edit returns a new GeoDataFrame (the input is not changed) in which only the grids
named change; the others keep their geometry bit for bit, so a division that passed
:func:`gis.coverage.validate` still passes. Geometry is cut and joined in the grids' own
CRS (these are topological operations: nodes are computed once and shared by both
neighbours); sizes in messages and checks are in metres (:func:`gis.crs.metric_crs`).
Lines (``line``, ``new_line``) are shapely LineStrings in the grids' CRS, or a
GeoSeries/GeoDataFrame of one line with its own CRS. Other columns are copied as they are
(derived values such as households are not recomputed).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.codes import PREFIX_LENGTH, is_grid_code, next_free_sequence, require_code_field
from gis.crs import metric_crs, require_crs
from gis.defaults import DEFAULT_CODE_FIELD, DEFAULT_NOISE_M
from gis.errors import InputError

__all__ = ["merge_grids", "move_shared_boundary", "split_along_line", "split_grid"]

_NOISE_M = DEFAULT_NOISE_M


def split_grid(
    grids: gpd.GeoDataFrame,
    code: str,
    line: Any,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    new_code: str | None = None,
) -> gpd.GeoDataFrame:
    """Return ``grids`` with grid ``code`` cut in two by ``line``.

    The larger piece keeps the code and the row; the smaller becomes a new row (a copy of
    the grid's attributes) with ``new_code``, by default the next free sequence under the
    grid's 12-digit prefix (:func:`gis.codes.next_free_sequence`). The points where the line
    meets the grid's outline are added to the neighbours sharing that outline, so shared
    edges keep identical vertices.

    Raises
    ------
    InputError
        Unknown code, a line that does not cut the grid in exactly two pieces, a taken or
        missing ``new_code``.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> g = gpd.GeoDataFrame({"code": ["310101002005001"]}, geometry=[box(0, 0, 10, 10)],
    ...                      crs=4549)
    >>> out = split_grid(g, "310101002005001", LineString([(3, -1), (3, 11)]))
    >>> out["code"].tolist(), out.area.tolist()
    (['310101002005001', '310101002005002'], [70.0, 30.0])
    """
    pos = _position(grids, code, code_field)
    cut = _line(line, grids, "line / 分割线")
    geom = grids.geometry.iloc[pos]
    pieces = _pieces(geom, np.array([cut], dtype=object))
    if len(pieces) < 2:
        raise InputError(
            f"分割线没有穿过网格 {code}（须从一侧边界进入、另一侧穿出）/ the line does not cut "
            f"grid {code} in two: it must enter the grid across its outline and leave it"
        )
    if len(pieces) > 2:
        raise InputError(
            f"分割线把网格 {code} 切成 {len(pieces)} 块，只能切成 2 块 / the line cuts grid "
            f"{code} into {len(pieces)} pieces; draw a line that cuts it once"
        )
    return _replace_with_pieces(
        grids, pos, pieces, None if new_code is None else [new_code], code_field
    )


def split_along_line(
    grids: gpd.GeoDataFrame,
    code: str,
    line: Any,
    *,
    tolerance_m: float = 5.0,
    min_width_m: float = 1.0,
    code_field: str = "code",
    new_codes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Return ``grids`` with grid ``code`` cut along ``line`` (e.g. a road's centreline).

    Unlike :func:`split_grid`, the line is taken as found in the data: it may be several
    pieces (a road mapped as many ways: a MultiLineString, or a GeoSeries/GeoDataFrame of
    lines), run far beyond the grid, cross it more than once (giving more than two pieces)
    or stop just short of its outline. An end of the line inside the grid within
    ``tolerance_m`` metres of the outline is extended to cross it: along its last segment
    when that reaches the outline within the tolerance, else straight to the nearest point
    of the outline. Distances are measured in a metric CRS (:func:`gis.crs.metric_crs`);
    the cut itself is made in the grids' CRS so the untouched outline keeps its vertices
    bit for bit and the neighbours receive the new nodes (shared edges stay identical).
    A road that runs along the outline (the usual case: grids are drawn along roads) cuts
    off strips narrower than ``min_width_m``; each such strip goes back to the piece it
    shares the longest edge with.

    The largest piece (in m²) keeps the code and the row; each other piece becomes a copy
    of the row with a code from ``new_codes`` (in order, largest piece first; codes left
    over are not used), by default the next free sequences under the grid's 12-digit prefix.

    Raises
    ------
    InputError
        Unknown code, a line that does not cut the grid (it must cross the grid from
        outline to outline, or end within ``tolerance_m`` of it), too few ``new_codes``,
        or a code already taken.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> g = gpd.GeoDataFrame({"code": ["310101002005001"]}, geometry=[box(0, 0, 100, 100)],
    ...                      crs=4549)
    >>> road = LineString([(30, 2), (30, 50), (31, 97)])  # stops 2 m and 3 m short
    >>> out = split_along_line(g, "310101002005001", road, tolerance_m=5)
    >>> out["code"].tolist(), out.area.round(1).tolist()
    (['310101002005001', '310101002005002'], [6973.4, 3026.6])
    """
    if not tolerance_m >= 0 or not min_width_m >= 0:
        raise InputError(
            f"容差须 ≥ 0 米 / tolerance_m and min_width_m must be ≥ 0, not {tolerance_m}, "
            f"{min_width_m}"
        )
    pos = _position(grids, code, code_field)
    geom = grids.geometry.iloc[pos]
    parts = _line_parts(line, grids, "line / 道路中心线")
    parts = _extend_to_outline(parts, geom, grids.crs, tolerance_m)
    pieces = _merge_narrow(_pieces(geom, parts), grids.crs, min_width_m)
    if len(pieces) < 2:
        raise InputError(
            f"道路没有穿过网格 {code}（须从一侧边界穿到另一侧，或端点离边界不超过 "
            f"{tolerance_m:g} 米）/ the line does not cut grid {code}: it must cross the grid "
            f"from outline to outline, or end within {tolerance_m:g} m of the outline"
        )
    return _replace_with_pieces(grids, pos, pieces, new_codes, code_field, spare_codes=True)


def merge_grids(
    grids: gpd.GeoDataFrame,
    codes: list[str],
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    keep_code: str | None = None,
) -> gpd.GeoDataFrame:
    """Return ``grids`` with the grids ``codes`` merged into one.

    The grids must form one connected piece through shared edges of positive length
    (touching at a corner is not enough). The merged grid keeps ``keep_code`` (default: the
    first of ``codes``) and the row and attributes of that grid; the other rows are dropped.

    Raises
    ------
    InputError
        Fewer than two codes, an unknown code, ``keep_code`` not among ``codes``, or grids
        that are not adjacent.

    Examples
    --------
    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, crs=4549,
    ...     geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10), box(20, 0, 30, 10)])
    >>> out = merge_grids(g, ["b", "a"])
    >>> out["code"].tolist(), out.area.tolist()
    (['b', 'c'], [200.0, 100.0])
    """
    codes = list(dict.fromkeys(codes))
    if len(codes) < 2:
        raise InputError(f"合并至少需要两个网格 / merging needs two grids or more, got {codes}")
    keep_code = codes[0] if keep_code is None else keep_code
    if keep_code not in codes:
        raise InputError(
            f"保留的编码 {keep_code} 不在待合并网格中 / keep_code {keep_code} is not among {codes}"
        )
    positions = [_position(grids, c, code_field) for c in codes]
    geoms = np.asarray(grids.geometry.array, dtype=object)[positions]
    metric = metric_crs(grids)
    geoms_m = np.asarray(gpd.GeoSeries(geoms, crs=grids.crs).to_crs(metric).array, dtype=object)
    shared = np.array(
        [[_shared_length_m(a, b) if a is not b else 0.0 for b in geoms_m] for a in geoms_m]
    )
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(shared[i] > 10 * _NOISE_M):
            if int(j) not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    if len(reached) < len(codes):
        apart = [codes[i] for i in range(len(codes)) if i not in reached]
        raise InputError(
            f"网格 {', '.join(apart)} 与网格 {codes[0]} 不相邻（没有共享边）/ grids "
            f"{', '.join(apart)} are not adjacent to grid {codes[0]}: they share no edge"
        )
    merged = _polygonal(shapely.coverage_union_all(geoms))
    if shapely.get_type_id(merged) != 3:  # fall back for edges that are not bit-identical
        merged = _polygonal(shapely.union_all(geoms))
    keep = positions[codes.index(keep_code)]
    out = grids.copy()
    geometry = out.geometry.array.copy()
    geometry[keep] = merged
    out = out.set_geometry(geometry, crs=grids.crs)
    drop = [grids.index[p] for p in positions if p != keep]
    return out.drop(index=drop)


def move_shared_boundary(
    grids: gpd.GeoDataFrame,
    code_a: str,
    code_b: str,
    new_line: Any,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float = 0.01,
) -> gpd.GeoDataFrame:
    """Return ``grids`` with the boundary shared by grids ``code_a`` and ``code_b`` replaced.

    ``new_line`` runs from one end of the shared boundary to the other (its end points may
    be off by up to ``tolerance_m`` and are then set to the exact end points), stays within
    the two grids and does not cross itself. Both grids change together: together they cover
    exactly what they covered before, and their other edges are untouched.

    Raises
    ------
    InputError
        Unknown codes, grids sharing no edge or more than one stretch of edge, a line with
        other end points, leaving the two grids, or crossing itself.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> g = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4549,
    ...     geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)])
    >>> out = move_shared_boundary(g, "a", "b", LineString([(10, 0), (14, 5), (10, 10)]))
    >>> out.area.tolist()
    [120.0, 80.0]
    """
    pa, pb = _position(grids, code_a, code_field), _position(grids, code_b, code_field)
    if pa == pb:
        raise InputError(f"两个编码相同 / code_a and code_b are the same grid: {code_a}")
    a, b = grids.geometry.iloc[pa], grids.geometry.iloc[pb]
    line = _line(new_line, grids, "new_line / 新边界")
    metric = metric_crs(grids)

    def to_m(geom: shapely.Geometry) -> shapely.Geometry:
        return gpd.GeoSeries([geom], crs=grids.crs).to_crs(metric).iloc[0]

    shared = shapely.line_merge(shapely.intersection(shapely.boundary(a), shapely.boundary(b)))
    shared_lines = [
        p for p in shapely.get_parts(shared) if shapely.get_type_id(p) in (1, 2)
    ]  # LineString or LinearRing
    if not shared_lines or shapely.length(to_m(shapely.MultiLineString(shared_lines))) <= (
        10 * _NOISE_M
    ):
        raise InputError(
            f"网格 {code_a} 与 {code_b} 没有共享边 / grids {code_a} and {code_b} share no edge"
        )
    if len(shared_lines) > 1:
        raise InputError(
            f"网格 {code_a} 与 {code_b} 的共享边分成 {len(shared_lines)} 段，无法整体移动 / "
            f"grids {code_a} and {code_b} share {len(shared_lines)} separate stretches of edge; "
            "split the edit"
        )
    old = shared_lines[0]
    if old.is_closed:
        raise InputError(
            f"网格 {code_a} 与 {code_b} 的共享边是闭合环（一格包住另一格）/ the shared "
            f"boundary of grids {code_a} and {code_b} is a closed ring; move it by editing "
            "the inner grid"
        )
    ends = [shapely.Point(old.coords[0]), shapely.Point(old.coords[-1])]
    coords = np.asarray(line.coords)
    first, last = shapely.Point(coords[0]), shapely.Point(coords[-1])
    gap_direct = max(_distance_m(first, ends[0], to_m), _distance_m(last, ends[1], to_m))
    gap_reversed = max(_distance_m(first, ends[1], to_m), _distance_m(last, ends[0], to_m))
    if min(gap_direct, gap_reversed) > tolerance_m:
        raise InputError(
            f"新边界的端点须与网格 {code_a}、{code_b} 共享边的端点相同（相差 "
            f"{min(gap_direct, gap_reversed):.3f} m）/ the new line must start and end where the "
            f"shared boundary of grids {code_a} and {code_b} does (off by "
            f"{min(gap_direct, gap_reversed):.3f} m)"
        )
    start, end = ends if gap_direct <= gap_reversed else ends[::-1]
    coords[0], coords[-1] = start.coords[0], end.coords[0]
    line = shapely.LineString(coords)
    if not line.is_simple:
        raise InputError(
            f"新边界自相交 / the new line between {code_a} and {code_b} crosses itself"
        )
    pair = shapely.union(a, b)
    outside_m = shapely.length(to_m(shapely.difference(line, pair)))
    if outside_m > _NOISE_M:
        raise InputError(
            f"新边界有 {outside_m:.2f} m 超出网格 {code_a}、{code_b} / the new line leaves grids "
            f"{code_a} and {code_b} for {outside_m:.2f} m; it must stay within the two grids"
        )

    a_only = shapely.difference(shapely.boundary(a), old)
    b_only = shapely.difference(shapely.boundary(b), old)
    faces = _faces(np.r_[shapely.get_parts(a_only), shapely.get_parts(b_only), [line]])
    faces = faces[shapely.within(shapely.point_on_surface(faces), pair)]
    side_a, side_b = [], []
    for face in faces:
        edge = shapely.boundary(face)
        touch_a = shapely.length(to_m(shapely.intersection(edge, a_only)))
        touch_b = shapely.length(to_m(shapely.intersection(edge, b_only)))
        if touch_a > _NOISE_M and touch_a >= touch_b:
            side_a.append(face)
        elif touch_b > _NOISE_M:
            side_b.append(face)
        else:
            raise InputError(
                f"新边界把网格 {code_a}、{code_b} 切出不与两格外边相接的一块 / the new line cuts "
                f"off a piece touching neither grid's outer edge between {code_a} and {code_b}"
            )
    if not side_a or not side_b:
        gone = code_a if not side_a else code_b
        raise InputError(f"新边界让网格 {gone} 消失 / the new line leaves nothing of grid {gone}")
    new_a = _polygonal(shapely.coverage_union_all(np.array(side_a, dtype=object)))
    new_b = _polygonal(shapely.coverage_union_all(np.array(side_b, dtype=object)))
    for grid, geom in ((code_a, new_a), (code_b, new_b)):
        if shapely.get_type_id(geom) != 3:
            raise InputError(
                f"移动边界后网格 {grid} 不再是一块 / the new line splits grid {grid} into pieces"
            )
    out = grids.copy()
    geometry = out.geometry.array.copy()
    geometry[pa], geometry[pb] = new_a, new_b
    return out.set_geometry(geometry, crs=grids.crs)


# ------------------------------------------------------------------------------ helpers


def _position(grids: gpd.GeoDataFrame, code: str, code_field: str) -> int:
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError(f"网格须为 GeoDataFrame / grids must be a GeoDataFrame, not {type(grids)}")
    require_crs(grids, "grids / 网格")
    require_code_field(grids, code_field)
    hits = np.flatnonzero(grids[code_field].to_numpy() == code)
    if len(hits) == 0:
        raise InputError(f"没有编码为 {code} 的网格 / no grid has code {code}")
    if len(hits) > 1:
        raise InputError(
            f"编码 {code} 被 {len(hits)} 个网格使用，请先修复 / code {code} is held by "
            f"{len(hits)} grids; repair the division first"
        )
    geom = grids.geometry.iloc[hits[0]]
    if geom is None or geom.is_empty:
        raise InputError(f"网格 {code} 没有几何图形 / grid {code} has no geometry")
    return int(hits[0])


def _line(line: Any, grids: gpd.GeoDataFrame, what: str) -> shapely.LineString:
    if isinstance(line, gpd.GeoDataFrame | gpd.GeoSeries):
        require_crs(line, what)
        geo = line.geometry.to_crs(grids.crs)
        if len(geo) != 1:
            raise InputError(f"{what}: 须为一条线 / must hold one line, has {len(geo)} rows")
        line = geo.iloc[0]
    if isinstance(line, shapely.MultiLineString):
        merged = shapely.line_merge(line)
        line = merged if isinstance(merged, shapely.LineString) else line
    if not isinstance(line, shapely.LineString) or line.is_empty:
        raise InputError(
            f"{what}: 须为一条折线 (LineString) / must be one LineString, not "
            f"{getattr(line, 'geom_type', type(line).__name__)}"
        )
    return line


def _faces(lines: np.ndarray) -> np.ndarray:
    """Polygons formed by the noded ``lines``."""
    noded = shapely.union_all(lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return faces[shapely.area(faces) > 0]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))


def _pieces(geom: shapely.Geometry, lines: np.ndarray) -> np.ndarray:
    """The faces ``lines`` cut ``geom`` into (in ``geom``'s CRS, noded once)."""
    pieces = _faces(np.r_[shapely.get_parts(shapely.boundary(geom)), lines])
    return pieces[shapely.within(shapely.point_on_surface(pieces), geom)]


def _replace_with_pieces(
    grids: gpd.GeoDataFrame,
    pos: int,
    pieces: np.ndarray,
    new_codes: list[str] | None,
    code_field: str,
    *,
    spare_codes: bool = False,
) -> gpd.GeoDataFrame:
    """``grids`` with row ``pos`` replaced by ``pieces``: the largest (in m²) keeps the row
    and its code, each other piece becomes a copy of the row with the next code.

    ``new_codes`` (one per extra piece) default to the next free sequences under the grid's
    12-digit prefix; with ``spare_codes`` the list may hold more than are needed. The nodes
    the pieces added on the old outline go into the neighbours'
    outlines too, so shared edges keep identical vertices.
    """
    geom = grids.geometry.iloc[pos]
    code = grids[code_field].iloc[pos]
    metric = metric_crs(grids)
    areas = gpd.GeoSeries(pieces, crs=grids.crs).to_crs(metric).area.to_numpy()
    order = np.argsort(-areas, kind="stable")
    keep, extra = pieces[order[0]], list(pieces[order[1:]])
    codes = grids[code_field].tolist()
    if new_codes is None:
        if not is_grid_code(code):
            raise InputError(
                f"网格 {code} 不是 15 位编码，请给出新网格的编码 / grid {code} has no 15-digit "
                "code to number the new grid from; give new_code"
            )
        new_codes = []
        for _ in extra:
            new_codes.append(next_free_sequence(codes + new_codes, code[:PREFIX_LENGTH]))
    new_codes = list(new_codes[: len(extra)]) if spare_codes else new_codes
    if len(new_codes) != len(extra):
        raise InputError(
            f"网格 {code} 被切成 {len(pieces)} 块，需要 {len(extra)} 个新编码，给出了 "
            f"{len(new_codes)} 个 / grid {code} is cut into {len(pieces)} pieces: "
            f"{len(extra)} new codes are needed, {len(new_codes)} were given"
        )
    for new_code in new_codes:
        if new_code in codes or new_codes.count(new_code) > 1:
            raise InputError(f"编码 {new_code} 已被使用 / code {new_code} is already taken")

    out = grids.copy()
    geometry = out.geometry.array.copy()
    geometry[pos] = keep
    added = _new_vertices(np.array([keep, *extra], dtype=object), geom)
    if len(added):
        geometry = _insert_vertices(geometry, pos, shapely.multipoints(added), geom)
    out = out.set_geometry(geometry, crs=grids.crs)
    rows = out.iloc[[pos] * len(extra)].copy()
    rows[code_field] = new_codes
    rows = rows.set_geometry(gpd.GeoSeries(extra, crs=grids.crs, index=rows.index).array)
    if pd.api.types.is_integer_dtype(out.index) and len(out):
        rows.index = list(range(int(out.index.max()) + 1, int(out.index.max()) + 1 + len(extra)))
        return pd.concat([out, rows])
    return pd.concat([out, rows], ignore_index=True)


def _line_parts(line: Any, grids: gpd.GeoDataFrame, what: str) -> np.ndarray:
    """The LineStrings of ``line`` (one line, several, or a frame of them) in the grids' CRS."""
    if isinstance(line, gpd.GeoDataFrame | gpd.GeoSeries):
        require_crs(line, what)
        line = shapely.union_all(line.geometry.to_crs(grids.crs).dropna().to_numpy())
    if not isinstance(line, shapely.Geometry) or line.is_empty:
        raise InputError(f"{what}: 须为线 (LineString) / must be lines, not {type(line).__name__}")
    parts = shapely.get_parts(shapely.line_merge(line) if line.geom_type != "LineString" else line)
    kinds = set(shapely.get_type_id(parts).tolist())
    if not len(parts) or kinds - {1}:
        raise InputError(
            f"{what}: 须为线 (LineString / MultiLineString) / must be lines, not {line.geom_type}"
        )
    return parts


def _merge_narrow(pieces: np.ndarray, crs: Any, min_width_m: float) -> np.ndarray:
    """``pieces`` with each one narrower than ``min_width_m`` (nothing left after an inward
    buffer of half that) joined to the piece it shares the longest edge with."""
    pieces = list(pieces)
    if min_width_m <= 0 or len(pieces) < 2:
        return np.array(pieces, dtype=object)
    metric = metric_crs(gpd.GeoDataFrame(geometry=pieces, crs=crs))
    pieces_m = list(gpd.GeoSeries(pieces, crs=crs).to_crs(metric))
    while len(pieces) > 1:
        narrow = [i for i, g in enumerate(pieces_m) if g.buffer(-min_width_m / 2).is_empty]
        if not narrow:
            break
        i = min(narrow, key=lambda k: pieces_m[k].area)
        shared = [
            -1.0 if j == i else _shared_length_m(pieces_m[i], pieces_m[j])
            for j in range(len(pieces))
        ]
        j = int(np.argmax(shared))
        if shared[j] <= 0:
            break  # touches no other piece: leave it (cannot happen for faces of one grid)
        pieces[j] = _polygonal(shapely.union(pieces[j], pieces[i]))
        pieces_m[j] = shapely.union(pieces_m[j], pieces_m[i])
        del pieces[i], pieces_m[i]
    return np.array(pieces, dtype=object)


def _extend_to_outline(
    parts: np.ndarray, geom: shapely.Geometry, crs: Any, tolerance_m: float
) -> np.ndarray:
    """``parts`` with each end inside ``geom`` within ``tolerance_m`` of its outline
    carried across the outline (measured in metres)."""
    metric = metric_crs(gpd.GeoDataFrame(geometry=[geom], crs=crs))
    to_m = pyproj.Transformer.from_crs(crs, metric, always_xy=True)
    back = pyproj.Transformer.from_crs(metric, crs, always_xy=True)
    outline_m = shapely.boundary(_transform(geom, to_m))
    out = []
    for part in parts:
        coords = shapely.get_coordinates(part)
        coords_m = shapely.get_coordinates(_transform(part, to_m))
        for index, inner in ((0, 1), (-1, -2)):
            end = shapely.Point(coords_m[index])
            if not shapely.covers(geom, shapely.Point(coords[index])):
                continue  # outside: the line already crosses the outline there
            if shapely.distance(end, outline_m) > tolerance_m:
                continue  # a dead end inside the grid: it cuts nothing
            tip = _across_outline(coords_m[inner], coords_m[index], outline_m, tolerance_m)
            tip_crs = np.column_stack(back.transform(tip[0], tip[1]))[0]
            coords = np.vstack([tip_crs, coords]) if index == 0 else np.vstack([coords, tip_crs])
            coords_m = np.vstack([tip, coords_m]) if index == 0 else np.vstack([coords_m, tip])
        out.append(shapely.LineString(coords))
    return np.array(out, dtype=object)


def _across_outline(
    before: np.ndarray, end: np.ndarray, outline_m: shapely.Geometry, tolerance_m: float
) -> np.ndarray:
    """A point just beyond ``outline_m`` from ``end`` (metres): ahead along the segment
    ``before``→``end`` when that meets the outline within the tolerance, else across the
    nearest point of the outline."""
    margin = max(0.5, 0.1 * tolerance_m)
    step = end - before
    length = float(np.hypot(*step))
    if length > 0:
        ahead = end + step / length * (tolerance_m + margin)
        if shapely.intersects(shapely.LineString([end, ahead]), outline_m):
            return ahead
    nearest = np.asarray(shapely.shortest_line(shapely.Point(end), outline_m).coords[1])
    away = nearest - end
    gap = float(np.hypot(*away))
    if gap == 0:  # on the outline already: go on along the line, or nowhere better
        return end + (step / length * margin if length > 0 else 0)
    return nearest + away / gap * margin


def _transform(geom: shapely.Geometry, transformer: pyproj.Transformer) -> shapely.Geometry:
    return shapely.transform(
        geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def _new_vertices(pieces: np.ndarray, old: shapely.Geometry) -> np.ndarray:
    """Vertices of ``pieces`` lying on the outline of ``old`` that ``old`` does not have."""
    before = {tuple(xy) for xy in shapely.get_coordinates(old)}
    after = np.unique(shapely.get_coordinates(pieces), axis=0)
    fresh = np.array([xy for xy in after if tuple(xy) not in before]).reshape(-1, 2)
    if len(fresh) == 0:
        return fresh
    on_edge = shapely.dwithin(shapely.points(fresh), shapely.boundary(old), _tiny(old))
    return fresh[on_edge]


def _tiny(geom: shapely.Geometry) -> float:
    """A distance far below any real one in the units of ``geom`` (about 1e-9 of its size)."""
    x0, y0, x1, y1 = geom.bounds
    return max(x1 - x0, y1 - y0, 1e-9) * 1e-9


def _insert_vertices(
    geometry: Any, skip: int, points: shapely.Geometry, old: shapely.Geometry
) -> Any:
    """Add ``points`` to the outlines of the grids (other than ``skip``) they lie on."""
    tol = _tiny(old)
    geoms = np.asarray(geometry, dtype=object)
    near = np.flatnonzero(shapely.dwithin(geoms, points, tol))
    for i in near:
        if i != skip:
            geometry[i] = shapely.snap(geoms[i], points, tol)
    return geometry


def _shared_length_m(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length of ``a``'s outline within noise of ``b``'s outline, in metres."""
    return float(
        shapely.length(
            shapely.intersection(
                shapely.boundary(a), shapely.buffer(shapely.boundary(b), _NOISE_M, quad_segs=2)
            )
        )
    )


def _distance_m(p: shapely.Point, q: shapely.Point, to_m) -> float:
    return float(shapely.distance(to_m(p), to_m(q)))
