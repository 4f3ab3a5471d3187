"""Offline geocoding of Chinese addresses against a door-plate gazetteer.

A :class:`Gazetteer` holds door plates (address → point), read from any point layer
:func:`gis.io.read_layer` reads or from a GeoDataFrame. Each gazetteer address is parsed with
:func:`gis.address.parse_address`; its road (or estate), lane, number, building, unit and room
form its key, and its administrative prefix (``上海市黄浦区``) tells where it lies.

Matching (:meth:`Gazetteer.geocode`):

1. The road is found by the gazetteer's own road names (normalised, also without 路/街 before a
   number). A road of several sections written short (``四川路`` for 四川中路/四川南路,
   ``南京路`` when only 南京东路 is held) is **ambiguous**: level ``none`` with the
   candidates, never a guess. A road the gazetteer does not hold gives ``none``.
2. Administrative names before the road (and a list of them after the address) are compared
   with the door plate's own: a contradiction (``北京市``, ``浦东新区``, ``江西省``) gives
   ``none``. Names the gazetteer does not record (a street or community when its addresses
   stop at the district) are accepted, unverified. Text before the road that is not a place
   name (``北京`` without 市, a person's name) gives ``none`` with the door plate as a
   candidate.
3. A door plate (号, or 弄+号) present in the gazetteer matches at ``doorplate``, or finer
   (``building``/``unit``/``room``) when the gazetteer holds those entries. A building in a
   lane (``X路N弄M号``) whose lane the gazetteer holds as a door plate (``X路N弄``) but not
   the building matches at ``lane``: the lane's point, with ``M号`` in ``unresolved``. A door
   plate that is not in the gazetteer is never matched at ``doorplate`` or finer: it gives ``road``,
   interpolated (``interpolated=True``) between the nearest door plates of the same parity
   below and above it on that road when both exist, else at the road's representative door
   plate. A lane (``36弄``) is not a door plate (``36号``). A building written without a door
   plate (``12号楼``) gives ``road``. Duplicate door plates give ``road`` with candidates.

Scores (0..1): ``doorplate`` and finer 1.0, ``lane`` 0.95, ``road`` 0.9 (0.85 when
interpolated); minus 0.05 for a road written without 路/街, 0.03 for a number without 号,
0.05 for a misspelled district (``黄埔区`` for 黄浦区), 0.02 for administrative names that
could not be verified. ``none`` scores 0 (its candidates carry their own scores).
:data:`CONFIDENCE_THRESHOLD` is 0.8: on the labelled sets ``tests/gis/geocode_cases.csv`` and
``data/geocode_real/cases.csv`` no result scoring at or above it is wrong.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.address import (
    AdminToken,
    ParsedAddress,
    build_road_forms,
    is_placeholder,
    national_admin_aliases,
    normalise,
    normalise_readings,
    parse_address,
    road_short_forms,
)
from gis.crs import metric_crs
from gis.defaults import DEFAULT_CODE_FIELD
from gis.errors import GeometryTypeError, InputError, UnknownCRSError

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "MATCH_LEVELS",
    "Gazetteer",
    "GeocodeResult",
    "GridLookup",
    "ReverseGeocodeResult",
    "geocode",
    "geocode_table",
    "reverse_geocode",
]

MATCH_LEVELS = ("room", "unit", "building", "doorplate", "lane", "road", "none")
"""Match levels, finest first."""

CONFIDENCE_THRESHOLD = 0.8
"""Results scoring at least this are trusted; on the labelled set none of them is wrong."""

_SCORE_LANE, _SCORE_ROAD, _SCORE_INTERPOLATED = 0.95, 0.9, 0.85
_PENALTY_ROAD_ALIAS, _PENALTY_BARE_NUMBER = 0.05, 0.03
_PENALTY_TYPO, _PENALTY_UNVERIFIED = 0.05, 0.02
_CANDIDATE_SCORE = 0.5
_TYPO_CANDIDATE_SCORE = 0.3
_LEVEL_ZH = {"room": "室", "unit": "单元", "building": "楼", "doorplate": "门牌"}

_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
_PROVINCE_ABBREVIATIONS = {
    "北京市": "京", "天津市": "津", "上海市": "沪", "重庆市": "渝", "河北省": "冀",
    "山西省": "晋", "辽宁省": "辽", "吉林省": "吉", "黑龙江省": "黑", "江苏省": "苏",
    "浙江省": "浙", "安徽省": "皖", "福建省": "闽", "江西省": "赣", "山东省": "鲁",
    "河南省": "豫", "湖北省": "鄂", "湖南省": "湘", "广东省": "粤", "海南省": "琼",
    "四川省": "川", "贵州省": "黔", "云南省": "滇", "陕西省": "陕", "甘肃省": "陇",
    "青海省": "青",
}  # fmt: skip
# Misspellings seen in practice, applied only when the gazetteer holds the right name and
# not the wrong one (a Guangzhou gazetteer holding 黄埔区 is unaffected).
_ADMIN_TYPOS = {"黄埔区": "黄浦区", "黄埔": "黄浦区"}
_ADMIN_SUFFIXES = ("特别行政区", "自治区", "新区", "省", "市", "区", "县")


@dataclass(frozen=True)
class GeocodeResult:
    """The answer for one address.

    ``lon``/``lat`` are in the gazetteer's CRS (None for ``none``). ``match_level`` is one of
    :data:`MATCH_LEVELS`; ``road`` the gazetteer's spelling of the road matched (also for
    ``road`` level); ``matched_address`` the gazetteer address (or the road for ``road``);
    ``candidates`` the door plates or roads it might be when the answer is ambiguous or
    doubtful (dicts with address, road, lon, lat, score); ``reason`` a short explanation;
    ``unresolved`` the part of the address finer than the match that the gazetteer does not
    hold (``8号`` of ``九江路36弄8号`` matched at ``lane``). ``extent`` (not in
    :meth:`to_dict`) is the gazetteer rows the answer stands for: the lane's or the road's door
    plates for ``lane`` and ``road``, the door plate itself for finer levels.
    """

    lon: float | None
    lat: float | None
    match_level: str
    score: float
    interpolated: bool = False
    matched_address: str | None = None
    road: str | None = None
    candidates: list[dict] = field(default_factory=list)
    reason: str = ""
    unresolved: str | None = None
    parsed: ParsedAddress | None = field(default=None, repr=False, compare=False)
    extent: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict:
        """Return the result as a JSON-friendly dict (without the parse)."""
        out = asdict(self)
        out.pop("parsed")
        out.pop("extent")
        return out


_NONE = GeocodeResult(None, None, "none", 0.0, reason="empty or placeholder")


def _none(reason: str, parsed=None, candidates=None) -> GeocodeResult:
    return GeocodeResult(
        None, None, "none", 0.0, candidates=candidates or [], reason=reason, parsed=parsed
    )


@dataclass(frozen=True)
class ReverseGeocodeResult:
    """Door plates near a point (``matches``, nearest first) and the grid holding the point."""

    lon: float
    lat: float
    matches: pd.DataFrame
    grid_code: Hashable | None = None


def _admin_of(tokens: Iterable[AdminToken]) -> dict[str, str]:
    admin: dict[str, str] = {}
    for token in tokens:
        if token.level != "country":
            admin.setdefault(token.level, token.name)
    if admin.get("city") in _MUNICIPALITIES:
        admin.setdefault("province", admin["city"])
    return admin


def _contradicts(tokens: Iterable[AdminToken], admin: dict[str, str]) -> bool:
    return any(
        t.level != "country" and t.level in admin and admin[t.level] != t.name for t in tokens
    )


def _unverified(tokens: Iterable[AdminToken], admin: dict[str, str]) -> bool:
    return any(t.level != "country" and t.level not in admin for t in tokens)


class Gazetteer:
    """Door plates to geocode against (build with :meth:`from_frame` or :meth:`from_file`).

    Rows whose geometry is missing or whose address names no road or estate are left out;
    their index labels are in :attr:`skipped`.

    Examples
    --------
    >>> from shapely import Point
    >>> plates = gpd.GeoDataFrame(
    ...     {"address": ["上海市黄浦区九江路10号", "上海市黄浦区九江路14号"]},
    ...     geometry=[Point(121.480, 31.240), Point(121.482, 31.240)], crs=4326)
    >>> gaz = Gazetteer.from_frame(plates)
    >>> r = gaz.geocode("黄浦区九江路十号")
    >>> r.match_level, r.matched_address, r.score
    ('doorplate', '上海市黄浦区九江路10号', 1.0)
    >>> r = gaz.geocode("九江路12号")
    >>> r.match_level, r.interpolated, round(r.lon, 4)
    ('road', True, 121.481)
    >>> gaz.geocode("上海市浦东新区九江路10号").match_level
    'none'
    """

    def __init__(self, frame: gpd.GeoDataFrame, *, address_column: str, road_column=None):
        self._build(frame, address_column, road_column)

    # --- construction ------------------------------------------------------------------

    @classmethod
    def from_frame(
        cls,
        gdf: gpd.GeoDataFrame,
        *,
        address_column: str = "address",
        road_column: str | None = None,
    ) -> Gazetteer:
        """Build a gazetteer from a point GeoDataFrame with an address column.

        ``road_column`` names a column holding the road when the address alone should not be
        trusted to give it; by default the road is parsed from the address. A projected frame
        is converted to its geographic CRS (results are lon/lat).
        """
        return cls(gdf, address_column=address_column, road_column=road_column)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        address_column: str = "address",
        road_column: str | None = None,
        layer: str | None = None,
        input_crs: str | None = None,
    ) -> Gazetteer:
        """Read a point layer with :func:`gis.io.read_layer` and build a gazetteer from it."""
        from gis.io import read_layer

        frame = read_layer(path, layer=layer, input_crs=input_crs, geometry_type="point")
        if address_column not in frame.columns:
            raise InputError(
                f"{path}: 没有地址字段 {address_column!r} / no address column "
                f"{address_column!r}; columns: "
                f"{', '.join(str(c) for c in frame.columns if c != frame.geometry.name)}"
            )
        return cls(frame, address_column=address_column, road_column=road_column)

    def _build(self, frame: gpd.GeoDataFrame, address_column: str, road_column) -> None:
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError("门牌库须为 GeoDataFrame / the gazetteer must be a GeoDataFrame")
        if frame.crs is None:
            raise UnknownCRSError("门牌库坐标系未知 / the gazetteer's CRS is unknown")
        for column in (address_column, road_column):
            if column is not None and column not in frame.columns:
                raise InputError(f"门牌库没有字段 {column!r} / the gazetteer has no {column!r}")
        crs = CRS.from_user_input(frame.crs)
        if not crs.is_geographic:
            frame = frame.to_crs(crs.geodetic_crs)
        geoms = frame.geometry
        kinds = geoms.geom_type
        bad = kinds.notna() & (kinds != "Point") & ~geoms.is_empty
        if bad.any():
            raise GeometryTypeError(
                f"门牌库第 {bad.index[np.argmax(bad.to_numpy())]} 行不是点 / gazetteer row "
                f"{bad.index[np.argmax(bad.to_numpy())]} is a {kinds[bad].iloc[0]}, not a point"
            )
        usable = geoms.notna() & ~geoms.is_empty

        self.crs: CRS = CRS.from_user_input(frame.crs)
        self.address_column = address_column
        self.skipped: list[Hashable] = []
        keep, parsed = [], []
        road_forms: dict[str, dict[str, str]] = {}  # a road column's road → its forms
        for label, address, ok, road in zip(
            frame.index,
            frame[address_column].tolist(),  # whole columns: a cell at a time costs 5x more
            usable.tolist(),
            frame[road_column].tolist() if road_column else [None] * len(frame),
            strict=True,
        ):
            forms = None
            if isinstance(road, str) and road:
                if road not in road_forms:
                    road_forms[road] = build_road_forms([road])
                forms = road_forms[road]
            elif road:  # a number, or NaN (truthy): as the road the column gives
                forms = build_road_forms([road])
            p = parse_address("" if pd.isna(address) else str(address), forms=forms)
            if not ok or p.road is None or p.leftover:
                self.skipped.append(label)
                continue
            keep.append(label)
            parsed.append(p)
        parsed = _reparse_with_vocabulary(parsed)
        self.frame: gpd.GeoDataFrame = frame.loc[keep].copy()
        self._parsed = parsed
        self._lon = shapely.get_x(np.asarray(self.frame.geometry.values))
        self._lat = shapely.get_y(np.asarray(self.frame.geometry.values))
        self._addresses = [str(a) for a in self.frame[address_column].tolist()]
        self._admin = [_admin_of(p.admin) for p in parsed]

        self._road_name: dict[str, str] = {}  # normalised → as written in the gazetteer
        self._rows_by_road: dict[str, list[int]] = defaultdict(list)
        self._rows_by_key: dict[tuple, list[int]] = defaultdict(list)
        self._rows_by_lane: dict[tuple, list[int]] = defaultdict(list)
        self._numbered: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, p in enumerate(parsed):
            written = self._addresses[i]
            if p.road not in self._road_name:
                self._road_name[p.road] = _written_road(written, p.road)
            self._rows_by_road[p.road].append(i)
            self._rows_by_key[(p.road, p.lane, p.number, p.building, p.unit, p.room)].append(i)
            if p.lane is not None:
                self._rows_by_lane[(p.road, p.lane)].append(i)
            if p.lane is None and p.building is None and p.number and p.number.isdigit():
                self._numbered[p.road].append((int(p.number), i))
        for plates in self._numbered.values():
            plates.sort()
        # a road's door plates share few place-name sets: checking an address's place names
        # once per distinct set, not once per door plate, keeps geocoding independent of how
        # many door plates a road has
        self._admin_groups: dict[str, list[tuple[dict[str, str], list[int]]]] = {}
        for road, rows in self._rows_by_road.items():
            groups: dict[tuple, tuple[dict[str, str], list[int]]] = {}
            for i in rows:
                admin = self._admin[i]
                groups.setdefault(tuple(sorted(admin.items())), (admin, []))[1].append(i)
            self._admin_groups[road] = list(groups.values())
        self._short: dict[str, set[str]] = defaultdict(set)
        for road in self._rows_by_road:
            for short in road_short_forms(road):
                if short not in self._rows_by_road:
                    self._short[short].add(road)
        self._aliases = self._admin_aliases()
        self._forms = build_road_forms(self._rows_by_road)

        self.metric_crs: CRS = metric_crs(self.frame) if len(self.frame) else CRS.from_epsg(3857)
        self._road_points: dict[str, int] = {}

    # --- metric view, made when first needed ----------------------------------------------
    # Interpolation, a road's representative door plate and the nearest door plates are
    # measured in metres (in ``metric_crs``); a table of exact door plates needs none of it,
    # so the transformers (tens of milliseconds to make), the projected coordinates and SciPy
    # (for the k-d tree) wait for their first use.

    @cached_property
    def _to_metric(self) -> Transformer:
        return Transformer.from_crs(self.crs, self.metric_crs, always_xy=True)

    @cached_property
    def _from_metric(self) -> Transformer:
        return Transformer.from_crs(self.metric_crs, self.crs, always_xy=True)

    @cached_property
    def _xy(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._to_metric.transform(self._lon, self._lat)
        return np.asarray(x), np.asarray(y)

    @property
    def _x(self) -> np.ndarray:
        return self._xy[0]

    @property
    def _y(self) -> np.ndarray:
        return self._xy[1]

    @cached_property
    def _tree(self):
        from scipy.spatial import cKDTree  # here: importing scipy costs more than a small run

        return cKDTree(np.column_stack([self._x, self._y])) if len(self.frame) else None

    def _road_point(self, road: str) -> int:
        """The road's door plate nearest the mean of its door plates (its representative)."""
        if road not in self._road_points:
            rows = self._rows_by_road[road]
            cx, cy = np.mean(self._x[rows]), np.mean(self._y[rows])
            self._road_points[road] = rows[
                int(np.argmin(np.hypot(self._x[rows] - cx, self._y[rows] - cy)))
            ]
        return self._road_points[road]

    def _admin_aliases(self) -> dict[str, tuple[str, str, bool]]:
        aliases: dict[str, tuple[str, str, bool]] = dict(national_admin_aliases())
        names: dict[str, str] = {}
        for admin in self._admin:
            for level, name in admin.items():
                names.setdefault(name, level)
        national = national_admin_aliases()
        for name, level in names.items():
            aliases[name] = (level, name, False)
            for suffix in _ADMIN_SUFFIXES:
                stem = name[: -len(suffix)]
                if name.endswith(suffix) and len(stem) >= 2 and stem not in names:
                    # the gazetteer's own place wins over a namesake elsewhere in China
                    # (大埔 is Hong Kong's 大埔区 here, not Guangdong's 大埔县)
                    if aliases.get(stem) == national.get(stem):
                        aliases[stem] = (level, name, False)
                    break
            if name in _PROVINCE_ABBREVIATIONS:
                aliases.setdefault(_PROVINCE_ABBREVIATIONS[name], (level, name, False))
        for wrong, right in _ADMIN_TYPOS.items():
            if right in names and wrong not in names:
                aliases[wrong] = (names[right], right, True)
        return aliases

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def roads(self) -> list[str]:
        """The roads (and estates) the gazetteer holds, as its addresses spell them."""
        return sorted(self._road_name.values())

    # --- geocoding -----------------------------------------------------------------------

    def parse(self, address: str, *, normalised: str | None = None) -> ParsedAddress:
        """Parse ``address`` knowing this gazetteer's roads and place names."""
        return parse_address(
            address, aliases=self._aliases, forms=self._forms, normalised=normalised
        )

    def geocode(self, address: str) -> GeocodeResult:
        """Geocode one address (see the module docstring for the rules and scores).

        When the address has numerals with more than one reading (``一百二号``: 120, then
        102) the readings are tried in order and the first the gazetteer holds a door plate
        (or lane) for wins; when none does, the first reading's answer stands.
        """
        if address is None or (isinstance(address, float) and math.isnan(address)):
            return _NONE
        if is_placeholder(str(address)):
            return _NONE
        readings = normalise_readings(str(address))
        first = self._geocode_reading(str(address), readings[0])
        for reading in readings[1:]:
            if first.match_level not in ("road", "none"):
                break
            other = self._geocode_reading(str(address), reading)
            if other.match_level not in ("road", "none"):
                return other
        return first

    def _geocode_reading(self, address: str, normalised: str) -> GeocodeResult:
        p = self.parse(address, normalised=normalised)
        if p.road is None:
            return _none("no road or estate found / 未找到道路", p)
        if p.road not in self._rows_by_road:
            return self._unknown_road(p)
        tokens = (*p.admin, *p.trailing_admin)
        groups = self._admin_groups[p.road]
        agreeing = [(admin, rows) for admin, rows in groups if not _contradicts(tokens, admin)]
        if len(agreeing) == len(groups):
            rows = self._rows_by_road[p.road]
        else:  # the road's rows in their order, less those whose place names contradict
            rows = sorted(i for _, group_rows in agreeing for i in group_rows)
        if not rows:
            return _none("place name contradicts the gazetteer / 行政区划与门牌库不符", p)
        if p.leftover:
            doubtful = self._match(p, rows)
            cands = [self._candidate(i, _CANDIDATE_SCORE) for i in doubtful] if doubtful else []
            return _none(
                f"unrecognised text before the road / 道路前有无法识别的文字: {p.leftover}",
                p,
                cands,
            )
        penalty = (
            _PENALTY_ROAD_ALIAS * p.road_alias
            + _PENALTY_BARE_NUMBER * p.bare_number
            + _PENALTY_TYPO * any(t.typo for t in tokens)
            + _PENALTY_UNVERIFIED * any(_unverified(tokens, admin) for admin, _ in agreeing)
        )
        return self._resolve(p, rows, penalty)

    def _match(self, p: ParsedAddress, rows: list[int]) -> list[int]:
        """Return the door plates (row numbers) that exactly hold ``p``'s door plate."""
        if p.number is None and p.lane is None:
            return []
        key = (p.road, p.lane, p.number, None, None, None)
        return _within(self._rows_by_key.get(key, []), self._allowed(p, rows))

    def _allowed(self, p: ParsedAddress, rows: list[int]) -> set[int] | None:
        """``rows`` (of ``p``'s road) as a set, or None when they are all the road's rows.

        Every row found by a key of ``p.road`` is one of the road's rows, so when none was
        left out (the usual case) there is nothing to filter, and no set of a long road's
        door plates to build per address.
        """
        return None if rows is self._rows_by_road.get(p.road) else set(rows)

    def _resolve(self, p: ParsedAddress, rows: list[int], penalty: float) -> GeocodeResult:
        road = self._road_name[p.road]
        if p.number is None and p.lane is None and p.building is None:
            return self._road_result(p, rows, penalty, "road without door plate / 仅道路")
        base = (p.road, p.lane, p.number)
        allowed = self._allowed(p, rows)
        hits = _within(self._rows_by_key.get((*base, None, None, None), []), allowed)
        level, chosen = ("doorplate", hits) if hits else (None, [])
        # finer entries: building, then unit, then room
        finer = [
            ("building", p.building, (*base, p.building, None, None)),
            ("unit", p.unit, (*base, p.building, p.unit, None)),
            ("room", p.room, (*base, p.building, p.unit, p.room)),
        ]
        for finer_level, value, key in finer:
            if value is None:
                continue
            finer_hits = _within(self._rows_by_key.get(key, []), allowed)
            if len(finer_hits) != 1:
                break
            level, chosen = finer_level, finer_hits
        if level is None:
            if p.number is None and p.lane is None:
                return self._road_result(
                    p, rows, penalty, "building without door plate / 仅楼号，无门牌"
                )
            if p.lane is not None and p.number is not None:
                lane = self._lane_result(p, allowed, penalty)
                if lane is not None:
                    return lane
            return self._missing_doorplate(p, rows, penalty)
        if len(chosen) > 1:
            cands = [self._candidate(i, _CANDIDATE_SCORE) for i in chosen]
            return self._road_result(
                p, rows, penalty, "duplicate door plates / 门牌重复", candidates=cands
            )
        i = chosen[0]
        return GeocodeResult(
            float(self._lon[i]),
            float(self._lat[i]),
            level,
            round(1.0 - penalty, 3),
            matched_address=self._addresses[i],
            road=road,
            reason=f"{level} in gazetteer / 门牌库中有此{_LEVEL_ZH[level]}",
            parsed=p,
            extent=(i,),
        )

    def _lane_result(self, p: ParsedAddress, allowed: set[int] | None, penalty: float):
        """The lane's own door plate (``X路N弄``) for a building ``M号`` it does not hold."""
        hits = _within(self._rows_by_key.get((p.road, p.lane, None, None, None, None), []), allowed)
        if len(hits) != 1:
            return None
        i = hits[0]
        unresolved = f"{p.number}号" + "".join(
            f"{value}{unit}"
            for value, unit in ((p.building, "号楼"), (p.unit, "单元"), (p.room, "室"))
            if value is not None
        )
        extent = tuple(_within(self._rows_by_lane[(p.road, p.lane)], allowed))
        return GeocodeResult(
            float(self._lon[i]),
            float(self._lat[i]),
            "lane",
            round(_SCORE_LANE - penalty, 3),
            matched_address=self._addresses[i],
            road=self._road_name[p.road],
            reason=f"lane in gazetteer, {unresolved} not / 门牌库中有此弄，无{unresolved}",
            unresolved=unresolved,
            parsed=p,
            extent=extent,
        )

    def _road_result(self, p, rows, penalty, reason, candidates=None) -> GeocodeResult:
        i = self._road_point(p.road)
        return GeocodeResult(
            float(self._lon[i]),
            float(self._lat[i]),
            "road",
            round(_SCORE_ROAD - penalty, 3),
            matched_address=self._road_name[p.road],
            road=self._road_name[p.road],
            candidates=candidates or [],
            reason=reason,
            parsed=p,
            extent=tuple(rows),
        )

    def _missing_doorplate(self, p: ParsedAddress, rows: list[int], penalty: float):
        if p.lane is not None or not (p.number and p.number.isdigit()):
            return self._road_result(p, rows, penalty, "lane not in gazetteer / 弄不在门牌库中")
        number = int(p.number)
        allowed = self._allowed(p, rows)
        same_parity = self._numbered.get(p.road, [])
        if allowed is not None:
            same_parity = [(n, i) for n, i in same_parity if i in allowed]
        same_parity = [(n, i) for n, i in same_parity if n % 2 == number % 2]
        below = [(n, i) for n, i in same_parity if n < number]
        above = [(n, i) for n, i in same_parity if n > number]
        if not below or not above:
            return self._road_result(
                p, rows, penalty, "door plate not in gazetteer / 门牌库中无此门牌"
            )
        (n0, i0), (n1, i1) = below[-1], above[0]
        t = (number - n0) / (n1 - n0)
        x = self._x[i0] + t * (self._x[i1] - self._x[i0])
        y = self._y[i0] + t * (self._y[i1] - self._y[i0])
        lon, lat = self._from_metric.transform(x, y)
        road = self._road_name[p.road]
        return GeocodeResult(
            float(lon),
            float(lat),
            "road",
            round(_SCORE_INTERPOLATED - penalty, 3),
            interpolated=True,
            matched_address=road,
            road=road,
            reason=f"interpolated between {n0}号 and {n1}号 / 在{n0}号与{n1}号之间插值",
            parsed=p,
            extent=tuple(rows),
        )

    def _unknown_road(self, p: ParsedAddress) -> GeocodeResult:
        roads = sorted(self._short.get(p.road, ()))
        if roads:
            cands = []
            for road in roads:
                hits = self._rows_by_key.get((road, p.lane, p.number, None, None, None), [])
                if p.number is None or not hits:
                    i = self._road_point(road)
                    cands.append(
                        {**self._candidate(i, _CANDIDATE_SCORE), "address": self._road_name[road]}
                    )
                cands.extend(self._candidate(i, _CANDIDATE_SCORE) for i in hits)
            return _none(f"ambiguous road name, several sections / 路名有歧义: {p.road}", p, cands)
        # one character off (not a direction: 北苏州路 is not 南苏州路): a "did you mean"
        near = [
            road
            for road in self._rows_by_road
            if len(road) == len(p.road)
            and sum(a != b for a, b in zip(road, p.road, strict=True)) == 1
            and not any(
                a != b and (a in "东西南北中" or b in "东西南北中" or a.isdigit() or b.isdigit())
                for a, b in zip(road, p.road, strict=True)
            )
        ]
        cands = []
        for road in sorted(near):
            hits = self._rows_by_key.get((road, p.lane, p.number, None, None, None), [])
            cands.extend(self._candidate(i, _TYPO_CANDIDATE_SCORE) for i in hits)
        return _none(f"road not in gazetteer / 门牌库中无此道路: {p.road}", p, cands)

    def _candidate(self, i: int, score: float) -> dict:
        return {
            "address": self._addresses[i],
            "road": self._road_name[self._parsed[i].road],
            "lon": float(self._lon[i]),
            "lat": float(self._lat[i]),
            "score": score,
        }

    # --- reverse --------------------------------------------------------------------------

    def nearest(
        self, lon: float, lat: float, *, radius_m: float = 50.0, k: int = 3
    ) -> pd.DataFrame:
        """Return up to ``k`` door plates within ``radius_m`` of (lon, lat), nearest first."""
        columns = [c for c in self.frame.columns if c != self.frame.geometry.name]
        if self._tree is None or k < 1:
            return pd.DataFrame(columns=[*columns, "lon", "lat", "distance_m"])
        x, y = self._to_metric.transform(lon, lat)
        distance, index = self._tree.query(
            [x, y], k=min(k, len(self.frame)), distance_upper_bound=radius_m
        )
        distance, index = np.atleast_1d(distance), np.atleast_1d(index)
        found = np.isfinite(distance)
        rows = index[found]
        out = pd.DataFrame(self.frame.iloc[rows][columns]).reset_index(drop=True)
        out["lon"] = self._lon[rows]
        out["lat"] = self._lat[rows]
        out["distance_m"] = distance[found]
        return out


def _within(rows: list[int], allowed: set[int] | None) -> list[int]:
    """``rows`` that are in ``allowed`` (all of them when ``allowed`` is None), in order."""
    return list(rows) if allowed is None else [i for i in rows if i in allowed]


def _reparse_with_vocabulary(parsed: list[ParsedAddress]) -> list[ParsedAddress]:
    """Parse again, by the gazetteer's own road names, the addresses cut at a shorter road.

    The generic rule ends a road at its first suffix that fits; when the gazetteer also
    holds a longer road beginning with that name (``X道`` and ``X道前街``) and the address
    contains it, the longest known name wins.
    """
    roads = sorted({p.road for p in parsed if p.road})
    longer: dict[str, list[str]] = {}
    for k, road in enumerate(roads):
        j = k + 1
        while j < len(roads) and roads[j].startswith(road):
            longer.setdefault(road, []).append(roads[j])
            j += 1
    out = []
    for p in parsed:
        present = [r for r in longer.get(p.road, ()) if r in p.normalised]
        if present:
            again = parse_address(p.raw, roads=present)
            if again.road in present and not again.leftover:
                p = again
        out.append(p)
    return out


def _written_road(address: str, road_key: str) -> str:
    """Return the road as the gazetteer address spells it (falls back to the key)."""
    text = "".join(str(address).split())
    for start in range(len(text)):
        for end in range(len(text), start, -1):
            if normalise(text[start:end]) == road_key:
                return text[start:end]
    return road_key


def geocode(gazetteer: Gazetteer, address: str) -> GeocodeResult:
    """Geocode one address against ``gazetteer`` (same as ``gazetteer.geocode(address)``)."""
    return gazetteer.geocode(address)


def _grid_locator(grids, code_field: str, crs: CRS):
    """Return a function (lons, lats) → grid codes, or None when no grids are given.

    A grid frame is joined per call (:func:`gis.assign.assign_lonlat`: an STRtree query for
    the few thousand points a geocoding run has, an index only for many), not indexed up
    front: building a :class:`gis.assign.GridIndex` of a large division costs more than
    looking up a table of addresses.
    """
    if grids is None:
        return None
    from gis.assign import GridIndex, assign_lonlat

    if not isinstance(grids, GridIndex):

        def join(lons, lats):
            xs, ys = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
            return assign_lonlat(xs, ys, crs, grids, code_field=code_field)

        return join
    index = grids
    if CRS.from_user_input(index.crs).equals(crs):
        return index.locate_many
    transformer = Transformer.from_crs(crs, index.crs, always_xy=True)

    def locate(lons, lats):
        return index.locate_many(*transformer.transform(np.asarray(lons), np.asarray(lats)))

    return locate


class GridLookup:
    """The grid of each geocoding result, honest about roads that cross grids.

    A door plate (or finer) gets the grid its point lies in. A ``lane`` or ``road`` result
    (interpolated or not) stands for a stretch, not a point: it gets a grid code only when
    every door plate of that lane or road inside the community (the result's ``extent``;
    plates outside every grid are left out) lies in one grid; otherwise no code, and the
    grids it touches in ``grid_candidates``, so that nobody files an incident in the wrong grid.

    Parameters
    ----------
    gazetteer
        The gazetteer the results come from.
    grids
        A :class:`gis.assign.GridIndex` or a grid GeoDataFrame (code in ``code_field``).
    """

    def __init__(self, gazetteer: Gazetteer, grids, *, code_field: str = DEFAULT_CODE_FIELD):
        self._locate = _grid_locator(grids, code_field, gazetteer.crs)
        self._gazetteer = gazetteer
        # the grid of each door plate: looked up with the first lane or road result, in the
        # same join as that call's points (a table of door plates needs none of it)
        self._row_grid: list | None = None
        self._extent_grids: dict[tuple[int, ...], list] = {}

    def _grids_of_extent(self, extent: tuple[int, ...]) -> list:
        if extent not in self._extent_grids:
            codes = {self._row_grid[i] for i in extent} - {None}
            self._extent_grids[extent] = sorted(codes, key=str)
        return self._extent_grids[extent]

    def grids(self, results: list[GeocodeResult]) -> list[tuple[Hashable | None, list]]:
        """Return ``(grid_code, grid_candidates)`` for each result, in order."""
        out: list[tuple[Hashable | None, list]] = [(None, [])] * len(results)
        points, stretches = [], []
        for k, r in enumerate(results):
            if r.lon is None:
                continue
            if r.match_level in ("lane", "road") and r.extent:
                stretches.append(k)
            else:
                points.append(k)
        lons = np.array([results[k].lon for k in points], dtype=float)
        lats = np.array([results[k].lat for k in points], dtype=float)
        with_plates = self._row_grid is None and bool(stretches)
        n_plates = len(self._gazetteer) if with_plates else 0
        if with_plates:
            lons = np.concatenate([self._gazetteer._lon, lons])
            lats = np.concatenate([self._gazetteer._lat, lats])
        if len(lons):
            found = self._locate(lons, lats)
            if with_plates:
                self._row_grid = list(found[:n_plates])
            for k, code in zip(points, found[n_plates:], strict=True):
                out[k] = (code, [])
        for k in stretches:
            codes = self._grids_of_extent(results[k].extent)
            out[k] = (codes[0], []) if len(codes) == 1 else (None, list(codes))
        return out


def reverse_geocode(
    gazetteer: Gazetteer,
    lon: float,
    lat: float,
    *,
    radius_m: float = 50.0,
    k: int = 3,
    grids=None,
    code_field: str = DEFAULT_CODE_FIELD,
) -> ReverseGeocodeResult:
    """Return the door plates nearest (lon, lat) within ``radius_m`` metres, and its grid.

    Distances are measured in the gazetteer's metric CRS (:func:`gis.crs.metric_crs`).
    ``grids`` is a :class:`gis.assign.GridIndex` or a grid GeoDataFrame (id in
    ``code_field``); the grid is that of the point itself (None outside every grid).
    """
    if radius_m < 0 or not math.isfinite(radius_m):
        raise InputError(f"radius_m 须为非负数 / radius_m must be >= 0, got {radius_m!r}")
    matches = gazetteer.nearest(lon, lat, radius_m=radius_m, k=k)
    locate = _grid_locator(grids, code_field, gazetteer.crs)
    grid_code = locate([lon], [lat])[0] if locate is not None else None
    return ReverseGeocodeResult(float(lon), float(lat), matches, grid_code)


RESULT_COLUMNS = (
    "lon",
    "lat",
    "match_level",
    "score",
    "interpolated",
    "matched_address",
    "grid_code",
    "grid_candidates",
    "unresolved",
    "candidates",
)


def geocode_table(
    df: pd.DataFrame,
    *,
    column: str,
    gazetteer: Gazetteer,
    grids=None,
    code_field: str = DEFAULT_CODE_FIELD,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Geocode the addresses in ``df[column]``; return ``df`` with the result columns added.

    Every input row is kept, in order, with all its columns; added: ``lon``, ``lat`` (the
    gazetteer's CRS), ``match_level``, ``score``, ``interpolated``, ``matched_address``,
    ``grid_code`` (None without grids or outside them; for ``lane`` and ``road`` results only
    when the lane's or road's door plates lie in one grid, see :class:`GridLookup`),
    ``grid_candidates`` (a JSON list of the grids such a result touches when they are several,
    else None), ``unresolved`` (what a ``lane`` result leaves unmatched, e.g. ``8号``) and
    ``candidates`` (a JSON list when the result has candidates, else None). ``grids`` may
    also be a :class:`GridLookup` built once for many tables. An existing column of one of these
    names is replaced. ``progress`` is called with the number of rows done after each row.
    """
    if column not in df.columns:
        raise InputError(
            f"没有地址列 {column!r} / no address column {column!r}; columns: "
            f"{', '.join(str(c) for c in df.columns)}"
        )
    cache: dict[str, GeocodeResult] = {}
    results = []
    for n, value in enumerate(df[column].tolist(), start=1):
        key = (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
        if key not in cache:
            cache[key] = gazetteer.geocode(key)
        results.append(cache[key])
        if progress is not None:
            progress(n)
    out = df.copy()
    out["lon"] = pd.array([r.lon for r in results], dtype="Float64")
    out["lat"] = pd.array([r.lat for r in results], dtype="Float64")
    out["match_level"] = [r.match_level for r in results]
    out["score"] = [r.score for r in results]
    out["interpolated"] = [r.interpolated for r in results]
    out["matched_address"] = pd.Series(
        [r.matched_address for r in results], index=out.index, dtype=object
    )
    grid_of = [(None, [])] * len(results)
    if grids is not None:
        lookup = grids if isinstance(grids, GridLookup) else None
        lookup = lookup or GridLookup(gazetteer, grids, code_field=code_field)
        grid_of = lookup.grids(results)
    out["grid_code"] = pd.Series([g[0] for g in grid_of], index=out.index, dtype=object)
    out["grid_candidates"] = pd.Series(
        [json.dumps(g[1], ensure_ascii=False, default=str) if g[1] else None for g in grid_of],
        index=out.index,
        dtype=object,
    )
    out["unresolved"] = pd.Series([r.unresolved for r in results], index=out.index, dtype=object)
    out["candidates"] = pd.Series(
        [json.dumps(r.candidates, ensure_ascii=False) if r.candidates else None for r in results],
        index=out.index,
        dtype=object,
    )
    return out
