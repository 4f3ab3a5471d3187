"""15-digit hierarchical grid codes (docs/design.md §2) and their spatial numbering.

A grid code is 15 digits: the 6-digit administrative-division code (GB/T 2260, county
level), the 3-digit street/town, the 3-digit community/village and the 3-digit grid
sequence 001–999 within the community (DB11/T 2157-2023, after GB/T 30428.1 / CJ/T 213)::

    310101 002 005 008
    ^^^^^^ ^^^ ^^^ ^^^
    county street community grid

The first 12 digits are the community's *prefix*. Grids of a community are numbered
west→east then north→south (:func:`spatial_order`). Renumbering is explicit: a brand-new
division is numbered with :func:`number_grids`; when one grid changes, the others keep
their codes and a new grid takes the lowest free sequence (:func:`next_free_sequence`,
:func:`renumber_keep_existing`).

The division code is checked for shape only (six digits, not all zero); whether it is in
the current GB/T 2260 table is not checked (the table changes every year).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from gis.crs import require_crs, to_metric
from gis.errors import InputError, MissingFieldError

if TYPE_CHECKING:  # imported where used: a command checking a code field needs neither
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "CODE_LENGTH",
    "MAX_SEQUENCE",
    "PREFIX_LENGTH",
    "GridCode",
    "is_grid_code",
    "make_grid_code",
    "next_free_sequence",
    "number_grids",
    "parse_grid_code",
    "renumber_keep_existing",
    "require_code_field",
    "spatial_order",
    "spatial_rank",
]

CODE_LENGTH = 15
PREFIX_LENGTH = 12
MAX_SEQUENCE = 999

_DIGITS = re.compile(r"[0-9]+")


def require_code_field(frame: pd.DataFrame, code_field: str, *, source: object = None) -> None:
    """Raise :class:`~gis.errors.MissingFieldError` unless ``frame`` has ``code_field``.

    The one check of the grid code field: the message names the file (``source``, when
    given), the missing field and the fields there are.

    >>> import pandas as pd
    >>> require_code_field(pd.DataFrame({"code": []}), "code")
    >>> require_code_field(pd.DataFrame({"name": []}), "code", source="grids.geojson")
    Traceback (most recent call last):
    ...
    gis.errors.MissingFieldError: grids.geojson: 网格没有编码字段 'code' / ... fields: name
    """
    if code_field in frame.columns:
        return
    geometry = getattr(frame, "_geometry_column_name", None)
    fields = ", ".join(str(c) for c in frame.columns if c != geometry) or "(none)"
    where = f"{source}: " if source is not None else ""
    raise MissingFieldError(
        f"{where}网格没有编码字段 {code_field!r} / grids have no code field {code_field!r}; "
        f"fields: {fields}"
    )


@dataclass(frozen=True)
class GridCode:
    """A parsed 15-digit grid code; ``str(code)`` gives the 15 digits back.

    >>> c = parse_grid_code("310101002005008")
    >>> c.division, c.street, c.community, c.sequence, c.prefix
    ('310101', '002', '005', 8, '310101002005')
    >>> str(c)
    '310101002005008'
    """

    division: str
    street: str
    community: str
    sequence: int

    @property
    def prefix(self) -> str:
        """The first 12 digits: division + street + community."""
        return f"{self.division}{self.street}{self.community}"

    def __str__(self) -> str:
        return f"{self.prefix}{self.sequence:03d}"


def _code_problem(code: Any) -> str | None:
    """Return why ``code`` is not a grid code (Chinese / English), or None if it is one."""
    if not isinstance(code, str):
        return f"不是文本 ({type(code).__name__}) / not a string"
    if len(code) != CODE_LENGTH:
        return f"应为 15 位, 实为 {len(code)} 位 / must be 15 digits, has {len(code)} characters"
    if not (code.isascii() and _DIGITS.fullmatch(code)):
        return "含非数字字符 / contains characters other than digits 0-9"
    if code[:6] == "000000":
        return "行政区划代码不能为 000000 / division code cannot be 000000"
    if code[12:] == "000":
        return "网格序号不能为 000 (应为 001-999) / grid sequence cannot be 000 (001-999)"
    return None


def parse_grid_code(code: str) -> GridCode:
    """Parse a 15-digit grid code.

    Raises
    ------
    InputError
        Naming the value and why it is not a code: wrong length, a non-digit, division
        000000 or sequence 000.

    Examples
    --------
    >>> parse_grid_code("310101002005000")
    Traceback (most recent call last):
    ...
    gis.errors.InputError: 网格编码 '310101002005000' 无效 / invalid grid code '310101002005000': \
网格序号不能为 000 (应为 001-999) / grid sequence cannot be 000 (001-999)
    """
    problem = _code_problem(code)
    if problem is not None:
        raise InputError(f"网格编码 {code!r} 无效 / invalid grid code {code!r}: {problem}")
    return GridCode(code[:6], code[6:9], code[9:12], int(code[12:]))


def is_grid_code(code: Any) -> bool:
    """Return True if ``code`` is a valid 15-digit grid code (never raises).

    >>> is_grid_code("310101002005001"), is_grid_code("31010100200500"), is_grid_code(None)
    (True, False, False)
    """
    return _code_problem(code) is None


def _check_prefix(prefix12: Any) -> str:
    if not (
        isinstance(prefix12, str)
        and len(prefix12) == PREFIX_LENGTH
        and prefix12.isascii()
        and _DIGITS.fullmatch(prefix12)
    ):
        raise InputError(
            f"编码前缀 {prefix12!r} 无效: 应为 12 位数字 (区划 6 + 街道 3 + 社区 3) / "
            f"invalid code prefix {prefix12!r}: must be 12 digits "
            "(division 6 + street 3 + community 3)"
        )
    if prefix12[:6] == "000000":
        raise InputError(
            f"编码前缀 {prefix12!r} 无效: 行政区划代码不能为 000000 / "
            f"invalid code prefix {prefix12!r}: division code cannot be 000000"
        )
    return prefix12


def make_grid_code(prefix12: str, sequence: int) -> str:
    """Return the 15-digit code of grid ``sequence`` (1–999) under ``prefix12``.

    >>> make_grid_code("310101002005", 7)
    '310101002005007'
    """
    _check_prefix(prefix12)
    if isinstance(sequence, bool) or not isinstance(sequence, int | np.integer):
        raise InputError(f"网格序号 {sequence!r} 不是整数 / grid sequence {sequence!r} is not int")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise InputError(
            f"网格序号 {sequence} 超出 1-999 / grid sequence {sequence} is outside 1-999"
        )
    return f"{prefix12}{int(sequence):03d}"


def _used_sequences(codes: Iterable[Any], prefix12: str) -> set[int]:
    return {
        int(c[PREFIX_LENGTH:]) for c in codes if is_grid_code(c) and c[:PREFIX_LENGTH] == prefix12
    }


def next_free_sequence(codes: Iterable[Any], prefix12: str) -> str:
    """Return the code with the lowest sequence under ``prefix12`` not used in ``codes``.

    Codes under other prefixes, invalid codes and None are ignored.

    >>> next_free_sequence(["310101002005001", "310101002005002", "310101002005004"],
    ...                    "310101002005")
    '310101002005003'
    >>> next_free_sequence([], "310101002005")
    '310101002005001'
    """
    _check_prefix(prefix12)
    used = _used_sequences(codes, prefix12)
    for seq in range(1, MAX_SEQUENCE + 1):
        if seq not in used:
            return make_grid_code(prefix12, seq)
    raise InputError(
        f"社区 {prefix12} 的 999 个网格序号已用完 / all 999 grid sequences of {prefix12} are used"
    )


def _metric_geometries(grids: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    import geopandas as gpd

    frame = grids if isinstance(grids, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=grids)
    crs = require_crs(frame, "grids / 网格")
    if crs.is_geographic:
        frame = to_metric(frame)
    return frame.geometry.to_numpy()


def spatial_order(
    grids: gpd.GeoDataFrame | gpd.GeoSeries, *, band_factor: float = 0.5
) -> np.ndarray:
    """Return the positions of ``grids`` in numbering order: rows north→south, west→east.

    The rule, exactly (all in metres; lon/lat input is projected with
    :func:`gis.crs.to_metric`):

    1. Each grid is represented by its centroid (``shapely.centroid``; the centroid of the
       whole MultiPolygon for a multi-part grid). A missing or empty geometry goes last,
       in input order.
    2. The band height is ``band_factor`` (default 0.5) × the median height
       (``ymax - ymin`` of the bounds) of the grids.
    3. Centroids are taken from north to south (largest y first). The first opens a row;
       each next one joins the current row while it lies less than the band height below
       the y of the centroid that opened the row; otherwise it opens a new row. So a
       lattice whose row spacing is the grid height tolerates a vertical jitter of the
       centroids up to a quarter of the grid height.
    4. Within a row, grids go west→east by centroid x (ties: north first, then input
       order).

    The same function checks an existing numbering: a division is numbered in spatial
    order when its sequences, read in the order returned here, increase (see
    :func:`spatial_rank`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> g = gpd.GeoSeries([box(0, 0, 10, 10), box(10, 0, 20, 10), box(0, 10, 10, 20),
    ...                    box(10, 11, 20, 21)], crs=4549)
    >>> spatial_order(g).tolist()  # top row (2, 3) first; the 1 m jitter stays in the row
    [2, 3, 0, 1]
    """
    if band_factor <= 0:
        raise InputError(f"band_factor 必须为正 / band_factor must be positive: {band_factor}")
    geoms = _metric_geometries(grids)
    n = len(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    positions = np.flatnonzero(present)
    if len(positions) == 0:
        return np.arange(n)
    centroids = shapely.centroid(geoms[positions])
    x, y = shapely.get_x(centroids), shapely.get_y(centroids)
    bounds = shapely.bounds(geoms[positions])
    heights = bounds[:, 3] - bounds[:, 1]
    band_m = band_factor * float(np.median(heights))
    north_first = np.lexsort((positions, x, -y))
    row = np.empty(len(positions), dtype=int)
    row_top = None
    current = -1
    for i in north_first:
        if row_top is None or y[i] <= row_top - band_m:
            current += 1
            row_top = y[i]
        row[i] = current
    ordered = positions[np.lexsort((positions, -y, x, row))]
    return np.concatenate([ordered, np.flatnonzero(~present)])


def spatial_rank(grids: gpd.GeoDataFrame | gpd.GeoSeries, **kwargs: Any) -> np.ndarray:
    """Return each grid's 0-based place in :func:`spatial_order` (aligned with ``grids``).

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> spatial_rank(gpd.GeoSeries([box(0, 0, 1, 1), box(0, 1, 1, 2)], crs=4549)).tolist()
    [1, 0]
    """
    order = spatial_order(grids, **kwargs)
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    return rank


def number_grids(
    grids: gpd.GeoDataFrame, prefix12: str, *, code_field: str = "code"
) -> gpd.GeoDataFrame:
    """Return a copy of ``grids`` with codes 001, 002, … under ``prefix12`` in spatial order.

    For a brand-new division: every existing value of ``code_field`` is replaced. Rows keep
    their order and index.
    """
    _check_prefix(prefix12)
    if len(grids) > MAX_SEQUENCE:
        raise InputError(
            f"网格数 {len(grids)} 超过 999 / {len(grids)} grids exceed the 999 sequences"
        )
    rank = spatial_rank(grids)
    out = grids.copy()
    out[code_field] = [make_grid_code(prefix12, int(r) + 1) for r in rank]
    return out


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def renumber_keep_existing(
    grids: gpd.GeoDataFrame, prefix12: str, *, code_field: str = "code"
) -> gpd.GeoDataFrame:
    """Return a copy of ``grids`` where grids without a code take the lowest free codes.

    Grids that have a code keep it (whatever it is). Grids whose code is missing (None,
    NaN, empty or blank text, or no ``code_field`` column at all) take, in
    :func:`spatial_order` among themselves, the lowest sequences under ``prefix12`` that no
    grid uses yet — holes first, then after the highest.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": ["310101002005001", None, "310101002005003", None]},
    ...     geometry=[box(0, 1, 1, 2), box(2, 0, 3, 1), box(1, 1, 2, 2), box(0, 0, 1, 1)],
    ...     crs=4549)
    >>> renumber_keep_existing(g, "310101002005")["code"].tolist()
    ['310101002005001', '310101002005004', '310101002005003', '310101002005002']
    """
    _check_prefix(prefix12)
    out = grids.copy()
    if code_field not in out.columns:
        out[code_field] = None
    out[code_field] = out[code_field].astype(object)
    blank = np.array([_is_blank(v) for v in out[code_field]], dtype=bool)
    if not blank.any():
        return out
    used = _used_sequences(out.loc[~blank, code_field], prefix12)
    free = (s for s in range(1, MAX_SEQUENCE + 1) if s not in used)
    new_pos = np.flatnonzero(blank)
    order = spatial_order(out.geometry.iloc[new_pos])
    column = out.columns.get_loc(code_field)
    for pos in new_pos[order]:
        seq = next(free, None)
        if seq is None:
            raise InputError(
                f"社区 {prefix12} 的 999 个网格序号已用完 / "
                f"all 999 grid sequences of {prefix12} are used"
            )
        out.iat[pos, column] = make_grid_code(prefix12, seq)
    return out
