"""Normalise and parse Chinese addresses (for :mod:`gis.geocode`).

:func:`normalise` puts an address into one canonical spelling so that the gazetteer and the
input can be compared as strings:

* Unicode NFKC (full-width digits, letters, spaces and punctuation to half-width), letters
  upper-cased, every white-space removed (``虎丘 路1号`` = ``虎丘路1号``);
* traditional characters to simplified (OpenCC ``t2s``: ``圓明園路7號`` → ``圆明园路7号``);
* ``#`` → ``号``; brackets of every kind to ``()``; dashes to ``-``;
* Chinese numerals to digits **where they are numbers**, i.e. a run of numerals followed by
  a number marker (号 弄 栋 幢 座 楼 层 单元 室 户 路 街 巷): ``三号楼`` → ``3号楼``,
  ``十二栋`` → ``12栋``, ``一百零五号`` → ``105号``, ``一〇五号`` → ``105号`` (digit by
  digit when the run has no 十/百/千), ``中山东一路`` → ``中山东1路``. Numerals elsewhere
  (``十六铺``) are left alone. Road names go through the same function, so ``中山东1路`` and
  ``中山东一路`` compare equal.

:func:`parse_address` splits a normalised address into administrative prefix, road, lane
(弄), door-plate number (号), building (号楼/栋/幢/座), unit (单元), floor (楼/层/F), room
(室/户, or bare digits after the door plate) and notes (bracketed text and trailing remarks),
keeping ``12号`` (a door plate) apart from ``12弄`` (a lane) and ``12号楼`` (a building).
Given the road names of a gazetteer it finds the road by those names (also written without
``路``: ``汉口15号``); without them, by the generic pattern ``…路|街|大道|弄|巷``, or an
estate name ``…小区|花园|新村|公寓|大厦|家园|苑`` (which then stands in the road's place:
``阳光花园3号楼2单元502室``). A door plate keeps 甲/乙/丙/丁 or a letter after its number
(``15甲号`` and ``2A号`` are door plates of their own), and a short place name is read only
as a division that can lie in the province already named (after ``香港特别行政区``,
``大埔区`` is read whole, not as Guangdong's ``大埔县`` and a stray ``区``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from gis.errors import InputError

__all__ = [
    "ADMIN_LEVELS",
    "AdminToken",
    "ParsedAddress",
    "build_road_forms",
    "chinese_to_int",
    "is_placeholder",
    "national_admin_aliases",
    "normalise",
    "normalise_readings",
    "numeral_readings",
    "parse_address",
    "road_short_forms",
    "split_admin_prefix",
]

ADMIN_LEVELS = ("country", "province", "city", "district", "street", "community")
"""Administrative levels of a prefix, coarse to fine."""

_DIGITS = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
_TENS = str.maketrans({"廿": "二十", "卅": "三十"})
_NUMERALS = "零〇一幺二两三四五六七八九十百千廿卅"
_NUMERAL_RUN = re.compile(
    rf"[{_NUMERALS}]+(?=号|弄|栋|幢|座|楼|层|单元|室|户|路|街|巷)"
    # a run closing the address after a road or lane ("九江路十二", "汉口路一二〇")
    rf"|(?<=[路街巷弄道])[{_NUMERALS}]+(?=$|\(|[,，;；])"
)
_BRACKETS = {"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")"}
_DASHES = {"—": "-", "–": "-", "－": "-", "―": "-", "~": "-"}
# brackets to (), dashes to -, # to 号: one table (no key is another's output), one pass
_CANONICAL_MARKS = str.maketrans({**_BRACKETS, **_DASHES, "#": "号"})
_PLACEHOLDERS = frozenset(
    {"", "无", "空", "不详", "未知", "暂无", "同上", "略", "-", "/", "NA", "N/A", "NULL", "NONE"}
)


def chinese_to_int(numerals: str) -> int:
    """Return the integer a run of Chinese numerals writes.

    A run without 十/百/千 is read digit by digit (``一〇五`` → 105, as plates are read
    out); otherwise positionally (``一百零五`` → 105, ``十二`` → 12, via ``cn2an``).

    >>> [chinese_to_int(s) for s in ("一百零五", "一〇五", "十", "两")]
    [105, 105, 10, 2]
    """
    readings = numeral_readings(numerals)
    if not readings:
        raise InputError(f"not a number: {numerals!r}")
    return readings[0]


@lru_cache(maxsize=4096)
def numeral_readings(numerals: str) -> tuple[int, ...]:
    """Return the integers a run of Chinese numerals may write, the likeliest first.

    A run without 十/百/千 (or 廿/卅) is read digit by digit, as plates are read out
    (``二三`` → 23, ``一〇五`` → 105, ``幺零五`` → 105); a run with them positionally
    (``二十二`` → 22, ``廿三`` → 23, ``一百零五`` → 105). A run ending in 百/千 and one
    digit has two readings: the spoken one first (``一百二`` → 120, as in "a hundred and
    twenty"), then the one with the 零 left out (``一百二`` → 102). The caller lets its
    gazetteer decide between them; an empty tuple means the run is not a number.

    >>> numeral_readings("二三"), numeral_readings("二十二"), numeral_readings("一百二")
    ((23,), (22,), (120, 102))
    >>> numeral_readings("十十")
    ()
    """
    if not numerals:
        return ()
    readings: list[int] = []
    digitwise = None
    if all(ch in _DIGITS for ch in numerals):
        digitwise = int("".join(str(_DIGITS[ch]) for ch in numerals))
        readings.append(digitwise)
    positional_text = numerals.translate(_TENS).replace("〇", "零").replace("幺", "一")
    if any(unit in positional_text for unit in "十百千"):
        import cn2an  # imported lazily: ~80 ms

        candidates = [positional_text]
        if len(positional_text) >= 3 and positional_text[-2] in "百千":
            candidates.append(positional_text[:-1] + "零" + positional_text[-1])
        for candidate in candidates:
            try:
                value = int(cn2an.cn2an(candidate, "normal"))
            except (ValueError, KeyError, TypeError):
                continue
            if value not in readings:
                readings.append(value)
    return tuple(readings)


def _numeral_to_digits(match: re.Match) -> str:
    try:
        return str(chinese_to_int(match.group(0)))
    except (ValueError, KeyError):  # not a well-formed number (e.g. 十十): leave the text
        return match.group(0)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Return ``text`` in canonical spelling (see the module docstring); '' for None.

    >>> normalise(" 上海市 黄浦区　九江路１２號（近路口） ")
    '上海市黄浦区九江路12号(近路口)'
    >>> normalise("中山东一路一〇五号三号楼二单元五〇二室")
    '中山东1路105号3号楼2单元502室'
    >>> normalise("十六铺码头")
    '十六铺码头'
    """
    return _NUMERAL_RUN.sub(_numeral_to_digits, _canonical_characters(text))


@lru_cache(maxsize=65536)
def _canonical_characters(text: str) -> str:
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(text.split())  # every white-space (str.split's is re's \s)
    if not text:
        return ""
    text = _t2s().convert(text)
    return text.translate(_CANONICAL_MARKS).upper()


def normalise_readings(text: str) -> list[str]:
    """Return the normalised spellings of ``text``, the likeliest first.

    The first is :func:`normalise`; one more follows for each numeral run with a second
    reading (:func:`numeral_readings`: ``一百二号`` → ``120号``, then ``102号``).

    >>> normalise_readings("九江路一百二号")
    ['九江路120号', '九江路102号']
    """
    primary = normalise(text)
    canonical = _canonical_characters(text)
    out = [primary]
    for match in _NUMERAL_RUN.finditer(canonical):
        for value in numeral_readings(match.group(0))[1:]:
            head = _NUMERAL_RUN.sub(_numeral_to_digits, canonical[: match.start()])
            tail = _NUMERAL_RUN.sub(_numeral_to_digits, canonical[match.end() :])
            variant = f"{head}{value}{tail}"
            if variant not in out:
                out.append(variant)
    return out


def is_placeholder(text: str) -> bool:
    """Return True for an empty value or a placeholder such as 不详, 同上, ``/``, 无."""
    return normalise(text).strip(",.;:、。?!？！") in _PLACEHOLDERS or not any(
        ch.isalnum() for ch in normalise(text)
    )


# --- administrative prefix ---------------------------------------------------------------

_ADMIN_SUFFIX = re.compile(
    r"^(?P<name>[^\W\d_]{1,7}?(?P<suffix>特别行政区|自治区|自治州|自治县|新区|地区|街道|"
    r"居委会|社区|省|市|区|县|旗|盟|镇|乡|村))"
)
_SUFFIX_LEVEL = {
    "特别行政区": "province",
    "自治区": "province",
    "省": "province",
    "市": "city",
    "自治州": "city",
    "地区": "city",
    "盟": "city",
    "新区": "district",
    "区": "district",
    "县": "district",
    "自治县": "district",
    "旗": "district",
    "街道": "street",
    "镇": "street",
    "乡": "street",
    "社区": "community",
    "村": "community",
    "居委会": "community",
}
_COUNTRY = ("中华人民共和国", "中国")
# what follows a place name that is really the start of a road name (北京东路, 四川中路, 沙市路)
_ROAD_CONTINUES = re.compile(r"[东西南北中]?\d{0,2}(?:大道|大街|公路|路|街|巷|弄)")
_SEPARATORS = ",，、;；:：.。/-|"
_POSTCODE = re.compile(r"^\d{6}(?!\d)")


@dataclass(frozen=True)
class AdminToken:
    """One administrative name read from an address prefix.

    ``name`` is canonical (an alias such as ``沪`` or ``黄浦`` resolved to ``上海市`` or
    ``黄浦区``); ``written`` is the text as found; ``typo`` is True when a known misspelling
    was resolved (``黄埔区`` → ``黄浦区``).
    """

    level: str
    name: str
    written: str
    typo: bool = False


_ALIAS_INDEXES: dict[int, tuple[dict, dict[str, tuple[int, ...]], int]] = {}


def _alias_index(aliases: dict) -> dict[str, tuple[int, ...]]:
    """The lengths of the keys of ``aliases`` by first character, longest first (the eight
    tables used last are kept).

    Used for administrative aliases and for road forms alike: a look-up at a position then
    tries one slice per length (:func:`_names_at`) instead of every name beginning with the
    character there, which a national table or a city's roads have by the hundred.
    """
    key = id(aliases)
    cached = _ALIAS_INDEXES.get(key)
    if cached is not None and cached[0] is aliases and len(cached[0]) == cached[2]:
        if next(reversed(_ALIAS_INDEXES)) != key:  # most recently used last
            _ALIAS_INDEXES[key] = _ALIAS_INDEXES.pop(key)
        return cached[1]
    lengths: dict[str, set[int]] = {}
    for alias in aliases:
        if alias:
            lengths.setdefault(alias[0], set()).add(len(alias))
    index = {first: tuple(sorted(found, reverse=True)) for first, found in lengths.items()}
    # the least recently used table goes: a gazetteer read with a road column makes one small
    # table per road, which must not push out the national one (thousands of names)
    _ALIAS_INDEXES.pop(key, None)
    while len(_ALIAS_INDEXES) >= 8:
        del _ALIAS_INDEXES[next(iter(_ALIAS_INDEXES))]
    _ALIAS_INDEXES[key] = (aliases, index, len(aliases))
    return index


def _names_at(text: str, start: int, names: dict, index: dict[str, tuple[int, ...]]):
    """The keys of ``names`` that ``text`` has at ``start``, longest first (``index``:
    :func:`_alias_index` of ``names``)."""
    if start >= len(text):
        return
    for length in index.get(text[start], ()):
        candidate = text[start : start + length]
        if len(candidate) == length and candidate in names:
            yield candidate


def split_admin_prefix(
    prefix: str, aliases: dict[str, tuple[str, str, bool]] | None = None
) -> tuple[list[AdminToken], str]:
    """Split a normalised prefix into administrative names; return them and any leftover.

    ``aliases`` maps a written form to ``(level, canonical name, is_typo)`` (a gazetteer
    builds it from its own addresses). Known aliases are tried first (longest first), then a
    name ending in an administrative suffix (省, 市, 区, 县, 街道, 镇, 社区, …); a postcode
    (six digits) and separators are skipped. The leftover is the text from the first piece
    that is neither (empty when the whole prefix was read).

    >>> tokens, rest = split_admin_prefix("中国江西省九江市浔阳区")
    >>> [(t.level, t.name) for t in tokens], rest
    ([('country', '中国'), ('province', '江西省'), ('city', '九江市'), ('district', '浔阳区')], '')
    >>> split_admin_prefix("北京")[1]
    '北京'
    """
    aliases = aliases or {}
    by_first = _alias_index(aliases)
    tokens: list[AdminToken] = []
    provinces = national_provinces()
    within: frozenset[str] | None = None  # the province(s) the names read so far lie in
    i = 0
    while i < len(prefix):
        if prefix[i] in _SEPARATORS:
            i += 1
            continue
        rest = prefix[i:]
        postcode = _POSTCODE.match(rest)
        if postcode:
            i += postcode.end()
            continue
        country = next((c for c in _COUNTRY if rest.startswith(c)), None)
        if country:
            tokens.append(AdminToken("country", "中国", country))
            i += len(country)
            continue
        alias = next(
            (
                a
                for a in _names_at(rest, 0, aliases, by_first)
                if not _ROAD_CONTINUES.match(rest, len(a))
                and _fits(aliases[a][1], within, provinces)
            ),
            None,
        )
        if alias:
            level, name, typo = aliases[alias]
            tokens.append(AdminToken(level, name, alias, typo))
            i += len(alias)
            if level in ("province", "city") and within is None:
                within = provinces.get(name)
            continue
        generic = _ADMIN_SUFFIX.match(rest)
        if generic and not _ROAD_CONTINUES.match(rest, generic.end()):
            name = generic.group("name")
            tokens.append(AdminToken(_SUFFIX_LEVEL[generic.group("suffix")], name, name))
            i += len(name)
            continue
        return tokens, rest
    return tokens, ""


def _fits(name: str, within: frozenset[str] | None, provinces: dict) -> bool:
    """Whether a division called ``name`` can lie in the province(s) ``within``.

    A name the national table places only in other provinces cannot (after 香港特别行政区,
    大埔 is not Guangdong's 大埔县 and 九龙 not Sichuan's 九龙县); a name it does not hold
    (a gazetteer's own district) always can.
    """
    codes = provinces.get(name)
    return within is None or codes is None or bool(within & codes)


@lru_cache(maxsize=1)
def national_provinces() -> dict[str, frozenset[str]]:
    """Each province, city and district name of the national table → its province codes.

    The codes are the first two digits of GB/T 2260 (``31`` for 上海市 and every district
    of it); a name used in several provinces (朝阳区) has several.
    """
    provinces: dict[str, set[str]] = {}
    for row in _admin_rows():
        provinces.setdefault(row["name"], set()).add(row["code"][:2])
    return {name: frozenset(codes) for name, codes in provinces.items()}


@lru_cache(maxsize=1)
def _admin_rows() -> tuple[dict[str, str], ...]:
    """The national table's rows (read once: the aliases and the provinces both need them)."""
    import csv
    from importlib.resources import files

    text = files("gis").joinpath("admin_divisions.csv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
_NAME_SUFFIXES = (
    "特别行政区", "自治区", "自治州", "自治县", "新区", "地区", "省", "市", "区", "县"
)  # fmt: skip


@lru_cache(maxsize=1)
def national_admin_aliases() -> dict[str, tuple[str, str, bool]]:
    """Return every province, city and district of China by name and by short name.

    From the GB/T 2260 table shipped beside this module (``admin_divisions.csv``): each
    name maps to ``(level, name, False)``, and so does the name without its suffix
    (``上海`` → 上海市, ``黄浦`` → 黄浦区, ``浦东`` → 浦东新区) when at least two characters
    remain, so that a prefix run together without suffixes (``上海黄浦``) is read. A short
    name shared by divisions of different levels is left out (it decides nothing).
    """
    rows = _admin_rows()
    full: dict[str, tuple[str, str, bool]] = {}
    short: dict[str, set[tuple[str, str, bool]]] = {}
    for row in rows:
        name, level = row["name"], row["level"]
        if name in _MUNICIPALITIES:  # read as a city, as the generic 市 rule reads it
            level = "city"
        full.setdefault(name, (level, name, False))
        for suffix in _NAME_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                short.setdefault(name[: -len(suffix)], set()).add((level, name, False))
                break
    for stem, meanings in short.items():
        if len(meanings) == 1 and stem not in full:
            full[stem] = next(iter(meanings))
    return full


# --- road names ----------------------------------------------------------------------------

_ROAD_SUFFIXES = ("大道", "公路", "路", "街", "弄", "巷", "道")
_GENERIC_ROAD = re.compile(r"(?P<road>[^\W\d_]{1,10}?\d{0,2}(?:大道|公路|路|街|弄|巷|道))")
# the same, ending where a door-plate number starts: "X道前街20号" is the street X道前街,
# not the road X道 followed by 前街
_GENERIC_ROAD_BEFORE_NUMBER = re.compile(
    r"(?P<road>[^\W\d_]{1,10}?\d{0,2}(?:大道|公路|路|街|弄|巷|道))(?=\d)"
)
_GENERIC_ESTATE = re.compile(r"(?P<estate>[^\W\d_]{1,10}?(?:小区|花园|新村|公寓|大厦|家园|苑))")
_DIRECTIONS = "东西南北中"


def _road_suffix(name: str) -> str:
    return next((s for s in _ROAD_SUFFIXES if name.endswith(s) and len(name) > len(s)), "")


def road_short_forms(road: str) -> set[str]:
    """Return the shorter names a road of several sections is also called by.

    A direction (东西南北中) or section number just before the suffix, or a leading 南/北,
    is dropped: ``四川中路`` → ``四川路``; ``中山东1路`` → ``中山东路``, ``中山路``;
    ``南苏州路`` → ``苏州路``. Such a short name is ambiguous: the gazetteer cannot tell
    which section is meant. ``road`` is normalised.

    >>> sorted(road_short_forms("中山东1路"))
    ['中山东路', '中山路']
    >>> sorted(road_short_forms("南苏州路")), road_short_forms("九江路")
    (['苏州路'], set())
    """
    suffix = _road_suffix(road)
    if not suffix:
        return set()
    stem = road[: -len(suffix)]
    stems = {stem}
    frontier = [stem]
    while frontier:
        current = frontier.pop()
        if current[-1].isdigit():
            shorter = current.rstrip("0123456789")
        elif current[-1] in _DIRECTIONS:
            shorter = current[:-1]
        else:
            continue
        if len(shorter) >= 2 and shorter not in stems:
            stems.add(shorter)
            frontier.append(shorter)
    if stem[0] in "南北" and len(stem) >= 3 and stem[-1] not in _DIRECTIONS:
        stems.add(stem[1:])
    stems.discard(stem)
    return {s + suffix for s in stems}


def _road_aliases(road: str) -> list[str]:
    """Return the written forms that name ``road`` (normalised): itself, and without 路/街."""
    suffix = _road_suffix(road)
    forms = [road]
    if suffix in ("路", "街") and len(road) - len(suffix) >= 2 and not road[-2].isdigit():
        forms.append(road[: -len(suffix)])
    return forms


# --- the parts after the road ----------------------------------------------------------------

_LANE_NUMBER = re.compile(
    r"^(?P<lane>\d+)弄(?:(?P<number>\d+)(?P<hao>号(?!楼)|(?![\d号弄栋幢座单元楼层室户F])))?"
)
# a door plate may carry 甲/乙/丙/丁 or a letter after its number (外滩15甲号 is not 15号,
# 百福道2A号 is not 百福道2号)
_NUMBER = re.compile(r"^(?P<number>\d+(?:[甲乙丙丁]|[A-Z](?=号))?)号(?!楼)")
_BARE_NUMBER = re.compile(r"^(?P<number>\d+[甲乙丙丁]?)(?![\d号弄栋幢座单元楼层室户F])")
_BUILDING = re.compile(r"^(?P<building>\d+|[A-Z])(?:号楼|栋|幢|座)")
_UNIT = re.compile(r"^(?P<unit>\d+)单元")
_FLOOR = re.compile(r"^(?P<floor>\d+)(?:楼|层|F)")
_ROOM = re.compile(r"^-?(?P<room>\d{1,5})(?:室|户|房|号)?(?!\d)")
_NOTE = re.compile(r"\(([^()]*)\)?")


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of an address; every part is normalised text or None.

    ``road`` is the road as written (normalised), or the estate (小区/花园/苑…) when the
    address names no road; the geocoder reports the gazetteer's own
    spelling separately. ``lane`` is a 弄 number and ``number`` a 号 number: ``36弄8号`` has
    both, ``36弄`` only a lane. ``note`` joins bracketed notes and trailing remarks;
    ``leftover`` is prefix text that is not an administrative name (e.g. ``北京`` before a
    road, or a name). ``road_alias`` is True when the road was written without 路/街 and
    ``bare_number`` when the door-plate number came without 号.
    """

    raw: str
    normalised: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    lane: str | None = None
    number: str | None = None
    building: str | None = None
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    note: str | None = None
    leftover: str | None = None
    road_alias: bool = False
    bare_number: bool = False
    admin: tuple[AdminToken, ...] = field(default=(), repr=False)
    trailing_admin: tuple[AdminToken, ...] = field(default=(), repr=False)

    @property
    def has_doorplate(self) -> bool:
        """True when a door-plate number (号, possibly inside a lane) was given."""
        return self.number is not None


def build_road_forms(roads: Iterable[str]) -> dict[str, str]:
    """Map every written form of the ``roads`` (normalised; also without 路/街) to the road."""
    forms: dict[str, str] = {}
    for road in roads:
        key = normalise(road)
        for form in _road_aliases(key):
            forms.setdefault(form, key)
    return forms


def _find_known_road(text: str, road_forms: dict[str, str]) -> tuple[int, int, str, bool] | None:
    """Return (start, end, road, via_alias) of the road occurrence to use, or None.

    A full name counts anywhere; a name written without 路/街 only when a digit follows. The
    first occurrence followed by a number wins (longest at the same place), else the first.
    """
    found = []
    by_first = _alias_index(road_forms)
    for start, first in enumerate(text):
        if first not in by_first:  # most positions: no road name begins with this character
            continue
        for form in _names_at(text, start, road_forms, by_first):
            road = road_forms[form]
            end = start + len(form)
            alias = form != road
            followed_by_number = end < len(text) and text[end].isdigit()
            if not alias or followed_by_number:
                found.append((not followed_by_number, start, -len(form), end, road, alias))
    if not found:
        return None
    _, start, _, end, road, alias = min(found)
    return start, end, road, alias


def _parse_tail(tail: str) -> dict:
    """Parse what follows the road: lane, number, building, unit, floor, room, remark."""
    parts: dict = {}
    rest = tail.lstrip(_SEPARATORS)
    lane = _LANE_NUMBER.match(rest)
    if lane:
        parts["lane"] = lane.group("lane")
        if lane.group("number"):
            parts["number"] = lane.group("number")
            parts["bare_number"] = not lane.group("hao")
        rest = rest[lane.end() :]
    else:
        number = _NUMBER.match(rest) or _BARE_NUMBER.match(rest)
        if number:
            parts["number"] = number.group("number")
            parts["bare_number"] = not number.group(0).endswith("号")
            rest = rest[number.end() :]
    for name, pattern in (("building", _BUILDING), ("unit", _UNIT), ("floor", _FLOOR)):
        rest = rest.lstrip("-")
        match = pattern.match(rest)
        if match:
            parts[name] = match.group(name)
            rest = rest[match.end() :]
    if ("number" in parts or "building" in parts or "lane" in parts) and (
        room := _ROOM.match(rest)
    ):
        parts["room"] = room.group("room")
        rest = rest[room.end() :]
    parts["remark"] = rest.strip(_SEPARATORS) or None
    return parts


def _generic_road(body: str, aliases) -> tuple[list[AdminToken], str | None, str, str]:
    """Find a road by the generic pattern after the administrative prefix.

    When the prefix reader took the start of a road name for a place (``沙市路``: 沙市 looks
    like a city), the last prefix names are given back to the road, one at a time.
    """
    tokens, rest = split_admin_prefix(body, aliases)
    for keep in range(len(tokens), -1, -1):
        text = "".join(t.written for t in tokens[keep:]) + rest
        generic = (
            _GENERIC_ROAD_BEFORE_NUMBER.match(text)
            or _GENERIC_ROAD.match(text)
            or _GENERIC_ESTATE.match(text)
        )
        if generic:
            return tokens[:keep], generic.group(0), "", text[generic.end() :]
    return tokens, None, "", rest


def parse_address(
    text: str,
    *,
    roads: Iterable[str] | None = None,
    aliases: dict[str, tuple[str, str, bool]] | None = None,
    forms: dict[str, str] | None = None,
    normalised: str | None = None,
) -> ParsedAddress:
    """Parse an address into its parts.

    Parameters
    ----------
    text
        The address as written (any width, traditional or simplified, spaces anywhere).
    roads
        Known road names (a gazetteer's). The road is found by these names first (also
        written without 路/街 before a number); without them, or when none occurs, by the
        generic pattern ``…路|街|大道|公路|弄|巷|道`` after the administrative prefix.
    aliases
        Administrative aliases for :func:`split_admin_prefix`; by default every province,
        city and district of China with its short name (:func:`national_admin_aliases`).
    forms
        ``road_forms(roads)`` computed once, instead of ``roads`` (for many look-ups).
    normalised
        One of :func:`normalise_readings` of ``text`` to parse instead of the first.

    Examples
    --------
    >>> p = parse_address("上海市黄浦区九江路36弄8号（近路口）")
    >>> p.city, p.district, p.road, p.lane, p.number, p.note
    ('上海市', '黄浦区', '九江路', '36', '8', '近路口')
    >>> p = parse_address("九江路12号楼")
    >>> p.number, p.building
    (None, '12')
    >>> p = parse_address("侯家路8号2号楼4单元1103室")
    >>> p.number, p.building, p.unit, p.room
    ('8', '2', '4', '1103')
    """
    raw = "" if text is None else str(text)
    if normalised is None:
        normalised = normalise(raw)
    if aliases is None:
        aliases = national_admin_aliases()
    if "(" in normalised:  # a note is bracketed
        notes = [n.strip() for n in _NOTE.findall(normalised) if n.strip()]
        body = _NOTE.sub("", normalised)
    else:
        notes, body = [], normalised
    postcode = _POSTCODE.match(body)
    if postcode:
        body = body[postcode.end() :]

    road_forms = forms if forms is not None else build_road_forms(roads or ())
    hit = _find_known_road(body, road_forms) if road_forms else None
    road_alias = False
    if hit is not None:
        start, end, road, road_alias = hit
        prefix, tail = body[:start], body[end:]
        tokens, leftover = split_admin_prefix(prefix, aliases)
    else:
        tokens, road, leftover, tail = _generic_road(body, aliases)

    parts = _parse_tail(tail) if (road is not None or tail) else {}
    remark = parts.pop("remark", None)
    trailing: list[AdminToken] = []
    if remark:
        trailing_tokens, trailing_rest = split_admin_prefix(remark, aliases)
        if not trailing_rest:
            trailing = trailing_tokens
        else:
            notes.append(remark)
    if road is None and parts.get("number") is not None:
        # a number with no road is no door plate ("12号"): keep it as a note
        notes.append(f"{parts.pop('number')}号")

    by_level: dict[str, str] = {}
    for token in tokens:
        by_level.setdefault(token.level, token.name)
    return ParsedAddress(
        raw=raw,
        normalised=normalised,
        province=by_level.get("province"),
        city=by_level.get("city"),
        district=by_level.get("district"),
        street=by_level.get("street"),
        community=by_level.get("community"),
        road=road,
        lane=parts.get("lane"),
        number=parts.get("number"),
        building=parts.get("building"),
        unit=parts.get("unit"),
        floor=parts.get("floor"),
        room=parts.get("room"),
        note="; ".join(notes) or None,
        leftover=leftover or None,
        road_alias=road_alias,
        bare_number=bool(parts.get("bare_number")),
        admin=tuple(tokens),
        trailing_admin=tuple(trailing),
    )
