"""Write the real-door-plate gazetteer and labelled set in ``data/geocode_real/`` (by rule).

Reads the OSM extracts as ``wangge gazetteer build`` wrote them (``osm_bund_tiles.csv``,
``osm_heritage_overpass.csv``, ``osm_lujiazui_tiles_2022.csv``; see
``data/geocode_real/README.md``), cleans and joins them
into ``door_plates.csv`` (rules in :func:`clean`), and writes each door plate in the forms
people write, with the truth (the door plate's ``id``) taken from the source. The rules are
written here with their own small helpers (integer → Chinese numerals, ASCII → full
width, simplified → traditional through OpenCC); they do not call the geocoder or its
normaliser. Run from the repository root:
``.venv/bin/python data/make_geocode_real.py``.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "geocode_real"
SEED = 20261207

_DIGIT = "〇一二三四五六七八九"


def digitwise(n: int) -> str:
    """23 → 二三 (a number read out digit by digit)."""
    return "".join(_DIGIT[int(d)] for d in str(n))


def positional(n: int) -> str:
    """23 → 二十三, 105 → 一百零五, 10 → 十 (1..9999)."""
    if n < 10:
        return "零一二三四五六七八九"[n]
    units = [(1000, "千"), (100, "百"), (10, "十")]
    out, zero = "", False
    for value, unit in units:
        digit, n = divmod(n, value)
        if digit:
            if zero:
                out += "零"
                zero = False
            out += ("" if (unit == "十" and digit == 1 and not out) else _DIGIT[digit]) + unit
        elif out:
            zero = True
    if n:
        out += ("零" if zero else "") + _DIGIT[n]
    return out


def to_traditional(text: str) -> str:
    """上海市圆明园路7号 → 上海市圓明園路7號 (OpenCC ``s2t``; the geocoder only reads ``t2s``)."""
    import opencc

    return opencc.OpenCC("s2t").convert(text)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


EXTRACTS = {
    "osm_bund_tiles.csv": "osm-bund-tiles",
    "osm_heritage_overpass.csv": "osm-heritage",
    "osm_lujiazui_tiles_2022.csv": "osm-lujiazui-tiles-2022",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
# a door plate: 12, 12号, 10-12, 106~110, 15甲, 1394弄2号, 350弄 (號 is the traditional 号)
_DOOR_PLATE = re.compile(r"^(?:\d+弄)?\d+(?:[-~]\d+)?[甲乙丙丁]?[号號]?$|^\d+弄$")
_STREET_WITH_LANE = re.compile(r"^(?P<road>.+?[路街道])(?P<lane>\d+)弄$")


def clean(plate: dict) -> dict | None:
    """One OSM door plate as a gazetteer row, or None when it is not a Chinese door plate.

    Dropped: streets written without Chinese characters (``Dong Ping Road``) or without a
    road (``1094弄``), and numbers that are not a door plate (``No. 8``, ``7 7Floor``,
    ``130 F6``, ``652号F座``, ``5-4临``). ``號`` in a number is written ``号``. A city
    before the street is removed (``上海市人民大道`` → 人民大道);
    a lane written into the street moves to the number (street ``南京西路1394弄``, number
    ``2`` → road 南京西路, number ``1394弄2号``). Every address gets ``上海市`` in front, and
    ``黄浦区`` when its point lies in the demo community (``data/demo/boundary.geojson``).
    """
    road, number = plate["road"].strip(), plate["number"].strip()
    road = road.removeprefix("上海市")
    if not _CJK.search(road) or re.match(r"^\d", road) or not _DOOR_PLATE.match(number):
        return None
    number = number.replace("號", "号")
    lane = _STREET_WITH_LANE.match(road)
    if lane:
        road = lane.group("road")
        number = f"{lane.group('lane')}弄{number.removesuffix('号')}号"
    if not number.endswith(("号", "弄")):
        number += "号"
    return {**plate, "road": road, "number": number}


# --- Hong Kong: the Education Bureau's school locations (DATA.GOV.HK) -------------------

HK_EXTRACT = "hk_edb_schools.csv"
# Hong Kong area names written before a road (areas, not districts: 旺角 is in 油尖旺區)
_HK_AREA_NAMES = """中環 上環 西環 西營盤 石塘咀 堅尼地城 薄扶林 半山 山頂 香港仔 鴨脷洲 黃竹坑 赤柱
            淺水灣 深水灣 壽臣山 華富 田灣 灣仔 銅鑼灣 跑馬地 大坑 天后 北角 鰂魚涌 太古城 西灣河
            筲箕灣 柴灣 小西灣 杏花邨 渣甸山 寶馬山 尖沙咀 佐敦 油麻地 旺角 大角咀 太子 深水埗
            長沙灣 荔枝角 美孚 石硤尾 又一村 九龍塘 九龍城 何文田 土瓜灣 紅磡 黃埔 京士柏 啟德
            黃大仙 新蒲崗 鑽石山 慈雲山 樂富 橫頭磡 竹園 彩虹 牛池灣 觀塘 官塘 牛頭角 九龍灣 藍田
            油塘 秀茂坪 順利 坪石 馬頭圍 馬頭角 蘇屋 將軍澳 西貢 坑口 寶琳 調景嶺 清水灣 沙田 大圍
            火炭 馬鞍山 小瀝源 沙田圍 大埔 大埔墟 太和 白石角 粉嶺 上水 古洞 打鼓嶺 沙頭角 元朗
            天水圍 錦田 八鄉 洪水橋 屏山 流浮山 廈村 十八鄉 新田 馬田 屯門 掃管笏 小欖 藍地 良景
            大興 友愛 湖景 兆康 青山 荃灣 深井 馬灣 汀九 葵涌 葵芳 荔景 石籬 大窩口 石圍角 青衣
            梨木樹 東涌 大嶼山 愉景灣 梅窩 長洲 坪洲 南丫島 大澳"""
HK_AREAS = tuple(sorted(set(_HK_AREA_NAMES.split()), key=len, reverse=True))
_HK_REGIONS = ("香港", "九龍", "新界")
_HK_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,4}?[邨墟區]")
_HK_GENERIC = re.compile(r"^(?:公路|大道|[道路街里徑坊圍台臺巷])[東南西北]?$")
_HK_ROAD = re.compile(r"^[\u4e00-\u9fff]{1,5}(?:道|路|街|里|徑|坊|圍|台|臺|巷)[東南西北]?$")
_HK_NUMBER = re.compile(r"^(?P<head>[\u4e00-\u9fff]+?)(?P<number>\d+[A-Z]?)號")
_WIDE = str.maketrans("０１２３４５６７８９ＡＢＣＤＥＦＧＨ", "0123456789ABCDEFGH")


def _hk_road(head: str) -> str | None:
    """九龍旺角西洋菜南街 → 西洋菜南街: the region and area names before the road removed.

    Area names (:data:`HK_AREAS`) and names ending in 邨, 墟 or 區 (an estate, a market
    town, a district) are removed, each area once, while a road name is left after them
    (大坑道 is a road, not 大坑 + 道; 青山公路 is not 青山 + 公路).
    """
    for region in _HK_REGIONS:
        if head.startswith(region) and not any(
            head.startswith(a) and not _HK_GENERIC.match(head[len(a) :]) for a in HK_AREAS
        ):
            head = head[len(region) :]
            break
    used: set[str] = set()  # each area once: 鴨脷洲鴨脷洲橋道 is 鴨脷洲 + 鴨脷洲橋道
    while True:
        named = _HK_PLACE.match(head)  # an estate, market or district: 華富邨, 石湖墟, 半山區
        found = [a for a in HK_AREAS if head.startswith(a) and a not in used]
        found += [named.group(0)] if named else []
        # the longest that leaves a road: 半山區 (not 半山 + 區波老道), 沙田 (not 沙田乙明邨 + 街)
        area = next(
            (
                a
                for a in sorted(found, key=len, reverse=True)
                if head[len(a) :] and not _HK_GENERIC.match(head[len(a) :])
            ),
            None,
        )
        if area is None:
            break
        head = head[len(area) :]
        used.add(area)
    return head if _HK_ROAD.match(head) else None


def clean_hk(row: dict) -> dict | None:
    """One school of the Education Bureau's list as a gazetteer row, or None.

    Kept: a Chinese address that starts with region/area names, a road and a door plate
    (``九龍旺角西洋菜南街111號``, ``新界葵涌大白田街９９號``), whose number the English address
    also has. Dropped: estates, lots and buildings without a road door plate
    (``新界沙田美林邨第三小學``), road sections (``青山公路深井段37號``) and roads longer than
    six characters (an unknown area name still in front). Road, district and name are
    written in simplified characters (OpenCC ``t2s``); full-width digits become ASCII.
    """
    import opencc

    text = re.sub(r"\s", "", row["address_tc"]).translate(_WIDE)
    match = _HK_NUMBER.match(text)
    if not match:
        return None
    road = _hk_road(match.group("head"))
    number = match.group("number")
    english = row["address_en"].upper()
    if road is None or not re.search(rf"(?<![0-9A-Z]){number}(?![0-9A-Z])", english):
        return None
    t2s = opencc.OpenCC("t2s")
    return {
        "id": f"hk-edb/{row['school_no']}",
        "road": t2s.convert(road),
        "number": f"{number}号",
        "name": row["name_tc"],
        "district": t2s.convert(row["district_tc"]),
        "lon": row["lon"],
        "lat": row["lat"],
        "source": "HK-EDB",
    }


def hk_door_plates(taken: set) -> list[dict]:
    """The Hong Kong door plates: one per road and number, none that is ambiguous.

    Several schools at one door plate (morning and afternoon sessions) give one row; the
    same road and number in places more than 150 m apart (a road name used in two areas)
    give none, since a query without the area could not tell them apart.
    """
    import geopandas as gpd
    from shapely import Point

    with open(ROOT / HK_EXTRACT, encoding="utf-8") as f:
        cleaned = [p for p in map(clean_hk, csv.DictReader(f)) if p is not None]
    groups: dict[tuple, list[dict]] = {}
    for plate in cleaned:
        groups.setdefault((plate["road"], plate["number"]), []).append(plate)
    plates = []
    for key, group in groups.items():
        points = gpd.GeoSeries(
            [Point(float(p["lon"]), float(p["lat"])) for p in group], crs=4326
        ).to_crs(2326)  # Hong Kong 1980 Grid, metres
        if key in taken or points.distance(points.iloc[0]).max() > 150:
            continue
        plate = group[0]
        plate["address"] = f"香港特别行政区{plate['district']}{plate['road']}{plate['number']}"
        plate["extract"] = "hk-edb-schools"
        plates.append(plate)
    return plates


def build_door_plates() -> list[dict]:
    import geopandas as gpd
    from shapely import Point

    boundary = gpd.read_file(ROOT.parent / "demo" / "boundary.geojson").to_crs(4326)
    area = boundary.geometry.union_all()
    plates, seen = [], set()
    for name, extract in EXTRACTS.items():
        with open(ROOT / name, encoding="utf-8") as f:
            for raw in csv.DictReader(f):
                plate = clean(raw)
                if plate is None or (plate["road"], plate["number"]) in seen:
                    continue
                seen.add((plate["road"], plate["number"]))
                inside = area.covers(Point(float(plate["lon"]), float(plate["lat"])))
                plate["address"] = ("上海市黄浦区" if inside else "上海市") + plate["road"]
                plate["address"] += plate["number"]
                plate["extract"] = extract
                plates.append(plate)
    plates += hk_door_plates(seen)
    fields = ["id", "address", "road", "number", "name", "lon", "lat", "source", "extract"]
    with open(ROOT / "door_plates.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: p[k] for k in fields} for p in plates)
    return plates


def main() -> None:
    rng = random.Random(SEED)
    plates = build_door_plates()
    numbers = {(p["road"], p["number"]) for p in plates}
    lanes = {(p["road"], p["number"]): p for p in plates if p["number"].endswith("弄")}
    rows = []

    def add(text, level, plate, variant, must_not=0, expected_number=""):
        rows.append(
            {
                "input": text,
                "expected_level": level,
                "expected_house_id": plate["id"] if level in ("doorplate", "lane") else "",
                "expected_road": plate["road"] if level != "none" else "",
                "expected_number": expected_number,
                "must_not_match": must_not,
                "note": f"variant={variant}; source={plate['extract']}",
            }
        )

    for p in plates:
        road, number = p["road"], p["number"]
        plain = re.fullmatch(r"(\d+)号", number)
        in_lane = re.fullmatch(r"(\d+)弄(\d+)号", number)
        lane = re.fullmatch(r"(\d+)弄", number)
        huangpu = "黄浦区" in p["address"]
        hong_kong = p["extract"].startswith("hk-")
        city = "香港特别行政区" if hong_kong else "上海市"
        if plain or in_lane:
            n = int((plain or in_lane).group(1 if plain else 2))
            head = f"{in_lane.group(1)}弄" if in_lane else ""
            wide_head = full_width(head)
            lane_read = f"{digitwise(int(in_lane.group(1)))}弄" if in_lane else ""
            add(f"{road}{head}{n}号", "doorplate", p, "plain", expected_number=n)
            add(f"{city}{road}{head}{n}号", "doorplate", p, "prefix_full", expected_number=n)
            # traditional characters, as on old signs and from Hong Kong/Taiwan writers
            # (OSM itself has 中山东二路505號)
            add(to_traditional(f"{city}{road}{head}{n}号"), "doorplate", p, "traditional", n)
            if hong_kong:  # 香港沙田 (district without 区, 香港东区 kept whole) or 中国香港
                district = p["district"]
                short = district.removesuffix("区") if len(district) > 2 else district
                run = rng.choice([f"香港{short}", "中国香港"])
            else:
                run = "上海黄浦" if huangpu else rng.choice(["上海", "中国上海"])
            add(f"{run}{road}{head}{n}号", "doorplate", p, "prefix_run_together", n)
            fw = f"{road}{wide_head}{full_width(str(n))}号"
            add(fw, "doorplate", p, "full_width", expected_number=n)
            digits = f"{road}{lane_read}{n}号" if in_lane else f"{road}{digitwise(n)}号"
            add(digits, "doorplate", p, "numeral_digitwise", expected_number=n)
            add(f"{road}{head}{positional(n)}号", "doorplate", p, "numeral_positional", n)
            add(f"{road} {head}{n} 号", "doorplate", p, "spaces", expected_number=n)
            note = f"（{p['name']}）" if p["name"] else rng.choice(["（近路口）", "(沿街)"])
            add(f"{road}{head}{n}号{note}", "doorplate", p, "bracket_note", expected_number=n)
            room = rng.choice(["502室", "3楼", "2单元301室", "1804室"])
            add(f"{road}{head}{n}号{room}", "doorplate", p, "room_suffix", expected_number=n)
            missing = n + 2000 + 2 * rng.randrange(50)
            if (road, f"{head}{missing}号") not in numbers:
                lane_plate = lanes.get((road, head))
                level = "lane" if lane_plate else "road"
                query = f"{road}{head}{missing}号"
                add(query, level, lane_plate or p, "missing_number", 1, missing)
            add(f"北京市东城区{road}{head}{n}号", "none", p, "other_place", 1)
        elif lane:
            n = int(lane.group(1))
            add(f"{road}{n}弄", "doorplate", p, "lane_plain")
            for m in rng.sample(range(1, 40), 3):
                add(f"{road}{n}弄{m}号", "lane", p, "lane_building")
            add(f"{road}{digitwise(n)}弄{rng.randrange(1, 40)}号", "lane", p, "lane_building")
            add(f"{road}{full_width(str(n))}弄502室", "doorplate", p, "lane_plain")
    with open(ROOT / "cases.csv", "w", encoding="utf-8", newline="") as f:
        fields = ["case_id", "input", "expected_level", "expected_house_id", "expected_road"]
        fields += ["expected_number", "must_not_match", "note"]
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for k, row in enumerate(rows, start=1):
            writer.writerow({"case_id": f"R{k:04d}", **row})
    print(f"{len(rows)} cases from {len(plates)} door plates")


if __name__ == "__main__":
    main()
