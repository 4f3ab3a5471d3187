"""Write tests/gis/geocode_cases.csv, the labelled address set for the gazetteer geocoder.

The set was written before any address normaliser existed and must not be regenerated from one:
the templates below describe how people write Chinese addresses, and every expected door plate
is looked up in the gazetteer ``data/demo/houses.csv`` (door plates: road + number, with points).
Deterministic (seeded); run ``python tests/gis/make_geocode_cases.py`` from the repository root.

Columns: case_id, input, expected_level, expected_house_id, expected_road, expected_number,
must_not_match, note. ``note`` starts with ``variant=<kind>``; road-level rows that name a number
also carry ``interpolated=true|false`` (true when the road has gazetteer door plates of the same
parity on both sides of the requested number).
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "data" / "demo" / "houses.csv"
OUT = Path(__file__).resolve().parent / "geocode_cases.csv"
COLUMNS = [
    "case_id",
    "input",
    "expected_level",
    "expected_house_id",
    "expected_road",
    "expected_number",
    "must_not_match",
    "note",
]
LEVELS = ("room", "unit", "building", "doorplate", "road", "none")
SEED = 20240707

# Real roads of Shanghai (and one of Huangpu) that have no door plate in the community's gazetteer.
ROADS_ELSEWHERE = [
    "南京西路",
    "淮海中路",
    "西藏中路",
    "人民大道",
    "延安中路",
    "北京西路",
    "金陵西路",
    "四川北路",
    "河南北路",
    "福建中路",
    "浙江中路",
    "山东中路",
    "复兴东路",
    "中华路",
    "陆家浜路",
    "肇嘉浜路",
    "长乐路",
    "衡山路",
    "曹杨路",
    "世纪大道",
]
# Prefixes that contradict 上海市黄浦区 (another city, or another district of Shanghai).
OTHER_PLACES = [
    "北京市东城区",
    "江西省九江市",
    "上海市静安区",
    "上海市浦东新区",
    "江苏省南京市",
    "广州市越秀区",
    "浙江省杭州市",
    "上海市徐汇区",
    "天津市和平区",
    "湖北省武汉市江汉区",
    "山东省青岛市市南区",
    "北京",
    "上海市虹口区",
    "四川省成都市",
    "重庆市渝中区",
]
CROSS_NOTES = ["（近{r}口）", "(近路口)", "（近{r}）", "（沿街）", "(临街门面)", "（{r}路口往东）"]
SUFFIXES = [
    ("{b}号楼{u}单元{r}室", "building+unit+room"),
    ("{b}号楼", "building"),
    ("{b}幢", "building (幢)"),
    ("{b}栋{r}室", "building (栋)+room"),
    ("{b}座", "building (座)"),
    ("A座{r}室", "lettered building+room"),
    ("{u}单元{r}", "unit+room without 室"),
    ("{f}楼", "floor"),
    ("{f}F", "floor (F)"),
    ("{r}室", "room"),
    ("{r}户", "room (户)"),
    ("{f}层{r}室", "floor+room"),
    ("{b}号楼{r}", "building+room without 室"),
]

DIGITS_ZH = "零一二三四五六七八九"


D, R, N = "doorplate", "road", "none"
# Messy inputs written by hand; every house_id was checked by hand against houses.csv
# (Cases.add checks it again). (input, level, house_id, road, number, must_not_match, note)
HAND_ROWS = [
    ("200002 上海市黄浦区九江路12号", D, "H00103", "九江路", 12, 0, "postcode before"),
    ("九江路12号 王先生 13812345678", D, "H00103", "九江路", 12, 0, "name and phone after"),
    ("九江路12号附近", D, "H00103", "九江路", 12, 0, "附近 is a remark"),
    ("九江路12号旁边小卖部", D, "H00103", "九江路", 12, 0, "remark after the plate"),
    ("九江路12号-502", D, "H00103", "九江路", 12, 0, "room after a hyphen"),
    ("九江路12号502", D, "H00103", "九江路", 12, 0, "room without 室"),
    ("九江12号", D, "H00103", "九江路", 12, 0, "路 left out (九江 is also a city)"),
    ("九江路12号楼", R, "", "九江路", "", 1, "12号楼 is a building, not door plate 12号"),
    ("九江路12弄", R, "", "九江路", "", 1, "lane 12, not door plate 12号 H00103"),
    ("上海市黄浦区四川中路105号5楼", D, "H00272", "四川中路", 105, 0, "floor"),
    ("四川中路一〇五号", D, "H00272", "四川中路", 105, 0, "digit-by-digit numerals with 〇"),
    ("四川中路一零五号", D, "H00272", "四川中路", 105, 0, "digit-by-digit numerals with 零"),
    ("黄浦区四川中路21号B座1203室", D, "H00357", "四川中路", 21, 0, "lettered block+room"),
    ("四川中路２１号Ｂ座", D, "H00357", "四川中路", 21, 0, "full-width digits and letter"),
    ("四川路12号", N, "", "", "", 1, "四川中路/四川南路/四川北路 ambiguous; candidates only"),
    ("四川省成都市四川中路12号", N, "", "", "", 1, "other province; not H00096"),
    ("中山东一路十号", D, "H00011", "中山东一路", 10, 0, "numeral inside the road name kept"),
    ("中山东1路10号", D, "H00011", "中山东一路", 10, 0, "road-name numeral in digits"),
    ("中山东二路十六号", D, "H00199", "中山东二路", 16, 0, "二 in road name, 十六 number"),
    ("中山东路10号", N, "", "", "", 1, "ambiguous: 中山东一路10号 H00011 / 中山东二路10号 H00279"),
    ("沙市一路2号", D, "H00160", "沙市一路", 2, 0, "road name ends in a numeral"),
    ("沙市1路2号", D, "H00160", "沙市一路", 2, 0, "road-name numeral in digits"),
    ("沙市二路7号", D, "H00026", "沙市二路", 7, 0, "road name ends in a numeral"),
    ("沙市二路2号", R, "", "沙市二路", 2, 1, "not 沙市一路2号 H00160"),
    ("沙市路1号", N, "", "", "", 1, "ambiguous: 沙市一路1号 H00112 / 沙市二路1号 H00123"),
    ("江西路2号", N, "", "", "", 1, "ambiguous: 江西中路2号 H00069 / 江西南路2号 H00068"),
    ("河南路5号", N, "", "", "", 1, "ambiguous: 河南中路5号 H00042 / 河南南路5号 H00384"),
    ("河南中路3号", R, "", "河南中路", 3, 1, "not 河南南路3号 H00083"),
    ("北京市北京东路2号", N, "", "", "", 1, "city 北京 contradicts; not H00373"),
    ("上海北京东路2号", D, "H00373", "北京东路", 2, 0, "road name starts with a city name"),
    ("北京东路２号", D, "H00373", "北京东路", 2, 0, "road name starts with a city name"),
    ("南京市南京东路1号", N, "", "", "", 1, "other city; not H00147"),
    ("南京路9号", N, "", "", "", 1, "南京东路/南京西路 ambiguous; not H00136"),
    ("上海市浦东新区南京东路9号", N, "", "", "", 1, "other district; not H00136"),
    ("上海市黄浦区 外滩街道 南京东路9号", D, "H00136", "南京东路", 9, 0, "spaced prefix"),
    ("南京东路９号，上海", D, "H00136", "南京东路", 9, 0, "city written after"),
    ("香港路4号", D, "H00366", "香港路", 4, 0, "road name is a place name"),
    ("香港九龙弥敦道100号", N, "", "", "", 1, "Hong Kong address"),
    ("广东省广州市广东路12号", N, "", "", "", 1, "other province; not H00303"),
    ("福州路5号", D, "H00142", "福州路", 5, 0, "not 福佑路5号 H00048"),
    ("福佑路5号", D, "H00048", "福佑路", 5, 0, "not 福州路5号 H00142"),
    ("福州路7号", R, "", "福州路", 7, 1, "not 福佑路7号 H00216"),
    ("江西省九江市浔阳区九江路1号", N, "", "", "", 1, "other city; not H00001"),
    ("九江市九江路1号", N, "", "", "", 1, "other city; not H00001"),
    ("上海市黄浦区南京西路100号", N, "", "", "", 1, "road not in community"),
    ("人民大道200号", N, "", "", "", 1, "人民大道 is not 人民路"),
    ("人民路11号", D, "H00172", "人民路", 11, 0, ""),
    ("金陵东路二十三号", D, "H00287", "金陵东路", 23, 0, ""),
    ("金陵西路23号", N, "", "", "", 1, "road not in community; not H00287"),
    ("金陵路23号", N, "", "", "", 1, "金陵东/中/西路 ambiguous; not H00287"),
    ("延安东路十一号（近四川中路）", D, "H00088", "延安东路", 11, 0, "note names a road"),
    ("延安路11号", N, "", "", "", 1, "延安东/中/西路 ambiguous; not H00088"),
    ("元芳弄3号", D, "H00151", "元芳弄", 3, 0, "road whose name ends in 弄"),
    ("元芳弄３号２楼", D, "H00151", "元芳弄", 3, 0, "road ending in 弄, full-width"),
    ("元芳弄8号", R, "", "元芳弄", 8, 1, "between 6号 and 10号"),
    ("虎丘 路1号", D, "H00379", "虎丘路", 1, 0, "space inside the road name"),
    ("上海市黄浦区外滩街道外滩源社区圆明园路 7 号", D, "H00145", "圆明园路", 7, 0, ""),
    ("圓明園路7號", D, "H00145", "圆明园路", 7, 0, "traditional characters throughout"),
    ("廣東路12號", D, "H00303", "广东路", 12, 0, "traditional characters throughout"),
    ("滇池路16号（外滩源）", D, "H00002", "滇池路", 16, 0, "bracketed estate remark"),
    ("滇池路口", R, "", "滇池路", "", 0, "road mouth, no number"),
    ("新永安路二十号", R, "", "新永安路", 20, 1, "not 永安路20号 H00178"),
    ("永安路二十号", D, "H00178", "永安路", 20, 0, "not 新永安路"),
    ("新永安路19号", D, "H00271", "新永安路", 19, 0, "not 永安路19号 H00212"),
    ("永安路19号", D, "H00212", "永安路", 19, 0, "not 新永安路19号 H00271"),
    ("福佑路86号", R, "", "福佑路", 86, 1, "between 84号 and 88号"),
    ("苏州路8号", N, "", "", "", 1, "南/北苏州路 ambiguous; not H00005"),
    ("北苏州路8号", N, "", "", "", 1, "road not in community; not 南苏州路8号 H00005"),
    ("泗泾路十四号二楼", D, "H00070", "泗泾路", 14, 0, "numeral floor"),
    ("梧桐路 12号 3单元", D, "H00239", "梧桐路", 12, 0, "unit, spaces"),
    ("侯家路10号(近复兴东路)", D, "H00046", "侯家路", 10, 0, "note names a road elsewhere"),
    ("浙江省丽水市丽水路1号", N, "", "", "", 1, "other city; not H00214"),
    ("紫金路4号", R, "", "紫金路", 4, 1, "road has odd numbers only"),
    ("中国上海市黄浦区虎丘路24号", D, "H00346", "虎丘路", 24, 0, ""),
    ("中华人民共和国上海市黄浦区虎丘路24号", D, "H00346", "虎丘路", 24, 0, "full country name"),
    ("上海市上海市黄浦区虎丘路24号", D, "H00346", "虎丘路", 24, 0, "prefix repeated"),
    ("上海市黄埔区虎丘路24号", D, "H00346", "虎丘路", 24, 0, "common typo 黄埔 for 黄浦"),
    ("广州市黄埔区九江路1号", N, "", "", "", 1, "Guangzhou's 黄埔区; not H00001"),
    ("沪黄浦区江西中路81号", D, "H00054", "江西中路", 81, 0, "沪 for Shanghai"),
    ("丹凤路4号", R, "", "丹凤路", 4, 1, "only 2号 exists"),
    ("安仁街四十一号", D, "H00245", "安仁街", 41, 0, "street ends in 街"),
    ("", N, "", "", "", 1, "empty"),
    ("\u3000", N, "", "", "", 1, "full-width space only"),
    ("不详", N, "", "", "", 1, "unknown"),
    ("同上", N, "", "", "", 1, "'same as above'"),
    ("/", N, "", "", "", 1, "placeholder"),
    ("上海市黄浦区", N, "", "", "", 1, "prefix only"),
    ("黄浦区外滩街道外滩源社区", N, "", "", "", 1, "prefix only"),
    ("12号", N, "", "", "", 1, "number without road"),
    ("3号楼502室", N, "", "", "", 1, "building and room without road"),
    ("asdf1234", N, "", "", "", 1, "garbage"),
    ("？？？", N, "", "", "", 1, "garbage"),
]


def zh_numeral(n: int) -> str:
    """Write 1 <= n < 1000 in Chinese numerals: 12 -> 十二, 23 -> 二十三, 105 -> 一百零五."""
    if not 0 < n < 1000:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += DIGITS_ZH[hundreds] + "百"
        if tens:
            out += DIGITS_ZH[tens] + "十"
        elif ones:
            out += "零"
    elif tens:
        out += ("" if tens == 1 else DIGITS_ZH[tens]) + "十"
    if ones:
        out += DIGITS_ZH[ones]
    return out


def full_width(text: str) -> str:
    """Replace ASCII letters, digits and punctuation by their full-width forms."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text
    )


def load_gazetteer() -> tuple[dict[tuple[str, int], str], dict[str, list[int]]]:
    by_plate: dict[tuple[str, int], str] = {}
    numbers: dict[str, list[int]] = defaultdict(list)
    with HOUSES.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["road"], int(row["number"]))
            if key in by_plate:
                raise SystemExit(f"duplicate door plate in gazetteer: {key}")
            expected = f"上海市黄浦区{row['road']}{row['number']}号"
            if row["address"] != expected:
                raise SystemExit(f"unexpected address form: {row['address']}")
            by_plate[key] = row["house_id"]
            numbers[row["road"]].append(int(row["number"]))
    return by_plate, {r: sorted(ns) for r, ns in numbers.items()}


def interpolated(numbers: list[int], n: int) -> bool:
    """True if same-parity gazetteer numbers exist both below and above the missing n."""
    same = [m for m in numbers if m % 2 == n % 2]
    return any(m < n for m in same) and any(m > n for m in same)


class Cases:
    def __init__(self, by_plate, numbers):
        self.by_plate = by_plate
        self.numbers = numbers
        self.rows: list[dict[str, str]] = []
        self.reserved: set[str] = set()  # inputs of the hand-written rows; templates skip them

    def add(self, text, level, *, house="", road="", number="", mnm=0, variant, note=""):
        assert level in LEVELS, level
        if variant != "hand" and text in self.reserved | {r["input"] for r in self.rows}:
            return
        if level == "doorplate":
            assert self.by_plate[(road, int(number))] == house, (text, road, number, house)
        if level == "road":
            assert road in self.numbers, (text, road)
            if number != "":
                assert int(number) not in self.numbers[road], (text, number)
                flag = interpolated(self.numbers[road], int(number))
                note = f"interpolated={'true' if flag else 'false'}; " + note
        if level == "none":
            assert not house
        full_note = f"variant={variant}" + (f"; {note}" if note else "")
        self.rows.append(
            {
                "input": text,
                "expected_level": level,
                "expected_house_id": house,
                "expected_road": road,
                "expected_number": str(number),
                "must_not_match": str(mnm),
                "note": full_note.rstrip("; "),
            }
        )


def prefix(rng: random.Random) -> str:
    """A random, consistent administrative prefix for the community, written in varied forms."""
    parts = []
    if rng.random() < 0.15:
        parts.append("中国")
    if rng.random() < 0.8:
        parts.append(rng.choice(["上海", "上海市", "上海市", "上海市"]))
    if rng.random() < 0.8:
        parts.append(rng.choice(["黄浦", "黄浦区", "黄浦区"]))
    if rng.random() < 0.35:
        parts.append("外滩街道")
    if rng.random() < 0.25:
        parts.append("外滩源社区")
    if not parts:
        parts.append("上海市黄浦区")
    sep = rng.choice(["", "", " ", "，", "、"]) if len(parts) > 1 else ""
    tail = rng.choice(["", "", " "])
    return sep.join(parts) + tail


def generated(cases: Cases, rng: random.Random) -> None:
    by_plate, numbers = cases.by_plate, cases.numbers
    roads = sorted(numbers)
    # Round-robin over roads with shuffled door plates, so consecutive picks spread over the file.
    queues = {r: rng.sample(numbers[r], len(numbers[r])) for r in roads}
    order: list[tuple[str, int]] = []
    while any(queues.values()):
        for r in rng.sample(roads, len(roads)):
            if queues[r]:
                order.append((r, queues[r].pop()))
    cursor = 0

    def pick(ok=lambda road, n: True):
        nonlocal cursor
        for _ in range(len(order)):
            road, n = order[cursor % len(order)]
            cursor += 1
            if ok(road, n):
                return road, n, by_plate[(road, n)]
        raise RuntimeError("no door plate fits")

    def dp(text, road, n, house, variant, note=""):
        cases.add(text, "doorplate", house=house, road=road, number=n, variant=variant, note=note)

    for _ in range(30):
        road, n, h = pick()
        dp(f"{road}{n}号", road, n, h, "plain")
    for _ in range(40):
        road, n, h = pick()
        dp(f"{prefix(rng)}{road}{n}号", road, n, h, "prefix")
    for _ in range(20):
        road, n, h = pick()
        pre = prefix(rng) if rng.random() < 0.5 else ""
        dp(f"{pre}{road}{full_width(str(n))}号", road, n, h, "full_width", "full-width digits")
    # Chinese numerals: make sure 二十三-style and 一百零五 appear.
    must = [("四川中路", 105), ("金陵东路", 23), ("江西中路", 81), ("福佑路", 40), ("九江路", 12)]
    for road, n in must:
        dp(f"{road}{zh_numeral(n)}号", road, n, by_plate[(road, n)], "chinese_numeral")
    for _ in range(22):
        road, n, h = pick()
        pre = prefix(rng) if rng.random() < 0.4 else ""
        dp(f"{pre}{road}{zh_numeral(n)}号", road, n, h, "chinese_numeral")
    for _ in range(12):
        road, n, h = pick()
        pre = prefix(rng) if rng.random() < 0.3 else ""
        dp(f"{pre}{road}{n}號", road, n, h, "traditional_hao", "號 for 号")
    for _ in range(12):
        road, n, h = pick()
        pre = prefix(rng) if rng.random() < 0.3 else ""
        dp(f"{pre}{road}{n}", road, n, h, "missing_hao", "号 left out")
    for i in range(39):
        road, n, h = pick()
        template, what = SUFFIXES[i % len(SUFFIXES)]
        b, u, f = rng.randint(1, 12), rng.randint(1, 6), rng.randint(1, 18)
        r = f * 100 + rng.randint(1, 6)
        tail = template.format(b=b, u=u, f=f, r=r)
        if rng.random() < 0.25:
            tail = full_width(tail)
        pre = prefix(rng) if rng.random() < 0.4 else ""
        dp(
            f"{pre}{road}{n}号{tail}",
            road,
            n,
            h,
            "suffix",
            f"{what} after the door plate; gazetteer has no building/unit/room entries, "
            "so the door plate is the finest supported level",
        )
    for i in range(16):
        road, n, h = pick()
        other = rng.choice([r for r in roads if r != road and r.endswith("路")])
        note_text = CROSS_NOTES[i % len(CROSS_NOTES)].format(r=other)
        dp(
            f"{road}{n}号{note_text}",
            road,
            n,
            h,
            "bracket_note",
            f"bracketed note names {other}, which must not replace the door plate"
            if other in note_text
            else "bracketed note",
        )
    spacing = [
        lambda road, n: f"{road} {n}号",
        lambda road, n: f"{road}{n} 号",
        lambda road, n: f"{road}  {n} 号",
        lambda road, n: f" {road}{n}号 ",
        lambda road, n: f"上海市 黄浦区 {road} {n}号",
        lambda road, n: f"上海市，黄浦区，{road}{n}号",
        lambda road, n: f"上海市黄浦区　{road}{n}号",
        lambda road, n: f"{road}{n}号。",
        lambda road, n: f"上海市黄浦区{road}{n}号,",
        lambda road, n: f"黄浦区:{road}{n}号",
    ]
    for i in range(20):
        road, n, h = pick()
        dp(spacing[i % len(spacing)](road, n), road, n, h, "spacing_punct")
    # 路 left out; only where the rest of the name stays unambiguous and does not end in a numeral.
    stems = {r: r[:-1] for r in roads if r.endswith("路") and r[-2] not in "一二"}
    for r, stem in list(stems.items()):
        if any(o != r and o.startswith(stem) for o in roads):
            del stems[r]
    for _ in range(12):
        road, n, h = pick(lambda road, n: road in stems)
        dp(f"{stems[road]}{n}号", road, n, h, "missing_lu", "路 left out")

    # Lanes on roads that have no 弄 in the gazetteer: 12弄 is not 12号.
    lane_roads = [r for r in roads if not r.endswith("弄")]
    for i in range(26):
        road, n, h = pick(lambda road, n: road in lane_roads)
        if i % 2:
            inner = rng.randint(1, 30)
            text = f"{road}{n}弄{inner}号"
            clash = [f"{n}号 {h}"]
            if (road, inner) in by_plate:
                clash.append(f"{inner}号 {by_plate[(road, inner)]}")
        else:
            text = f"{road}{n}弄"
            clash = [f"{n}号 {h}"]
        if rng.random() < 0.3:
            text = prefix(rng) + text
        cases.add(
            text,
            "road",
            road=road,
            mnm=1,
            variant="lane",
            note=f"lane {n}弄 is not a door plate; must not match {road}{' / '.join(clash)}",
        )

    # Numbers that are not door plates of a real road: at most road level, never doorplate.
    def missing_number(road: str, want_interp: bool) -> int:
        ns = numbers[road]
        pool = [k for k in range(1, max(ns) + 15) if k not in ns]
        pool = [k for k in pool if interpolated(ns, k) == want_interp]
        return rng.choice(pool) if pool else 0

    writers = [
        ("plain", lambda road, k: f"{road}{k}号"),
        ("prefix", lambda road, k: f"{prefix(rng)}{road}{k}号"),
        ("full_width", lambda road, k: f"{road}{full_width(str(k))}号"),
        ("chinese_numeral", lambda road, k: f"{road}{zh_numeral(k)}号"),
        ("suffix", lambda road, k: f"{road}{k}号{rng.randint(1, 9)}0{rng.randint(1, 4)}室"),
    ]
    made = 0
    while made < 32:
        road = rng.choice(roads)
        want = made % 2 == 0
        k = missing_number(road, want)
        if not k:
            continue
        form, write = writers[made % len(writers)]
        cases.add(
            write(road, k),
            "road",
            road=road,
            number=k,
            mnm=1,
            variant="missing_number",
            note=f"{road} has no door plate {k} in the gazetteer ({form} form)",
        )
        made += 1
    for k in (120, 300, 888):
        road = rng.choice(roads)
        cases.add(
            f"{road}{k}号",
            "road",
            road=road,
            number=k,
            mnm=1,
            variant="missing_number",
            note="number beyond the road's last door plate",
        )

    for i, other in enumerate(ROADS_ELSEWHERE):
        k = rng.randint(1, 400)
        text = f"{other}{k}号" if i % 3 else f"上海市黄浦区{other}{k}号"
        if i % 5 == 4:
            text = other
        cases.add(text, "none", mnm=1, variant="road_elsewhere", note=f"{other} not in community")
    for place in OTHER_PLACES:
        road, n, h = pick()
        cases.add(
            f"{place}{road}{n}号",
            "none",
            mnm=1,
            variant="other_place",
            note=f"{place} contradicts 上海市黄浦区; must not match {h}",
        )
    for i, road in enumerate(rng.sample(roads, 16)):
        form = i % 4
        text = [road, f"{prefix(rng)}{road}", f"{road}（近路口）", f"{road} 沿线"][form]
        cases.add(text, "road", road=road, variant="road_only", note="road name without number")


def hand_written(cases: Cases) -> None:
    """Messy inputs written by hand; every house_id was checked by hand against houses.csv."""
    for text, level, house, road, number, mnm, note in HAND_ROWS:
        cases.add(
            text, level, house=house, road=road, number=number, mnm=mnm, variant="hand", note=note
        )


def main() -> None:
    by_plate, numbers = load_gazetteer()
    cases = Cases(by_plate, numbers)
    rng = random.Random(SEED)
    cases.reserved = {row[0] for row in HAND_ROWS}
    generated(cases, rng)
    hand_written(cases)
    seen = Counter(r["input"] for r in cases.rows)
    dupes = [t for t, c in seen.items() if c > 1]
    if dupes:
        raise SystemExit(f"duplicate inputs: {dupes}")
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i, row in enumerate(cases.rows, start=1):
            writer.writerow({"case_id": f"G{i:04d}", **row})
    levels = Counter(r["expected_level"] for r in cases.rows)
    variants = Counter(r["note"].split(";")[0].removeprefix("variant=") for r in cases.rows)
    print(f"{len(cases.rows)} cases -> {OUT.relative_to(ROOT)}")
    print("levels:", dict(levels))
    print("variants:", dict(variants))
    print("distinct door plates:", len({r["expected_house_id"] for r in cases.rows} - {""}))


if __name__ == "__main__":
    main()
