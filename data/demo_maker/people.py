"""People of the demo: fictional names, the grid staff, residents."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from make_staff_photos import PHOTO_FOLDER as STAFF_PHOTO_FOLDER
from make_staff_photos import photo_file_name, write_staff_photos

from demo_maker.settings import SEED

__all__ = [
    "FOUR_FIFTY_DUTIES",
    "FOUR_FIFTY_GRIDS",
    "GIVEN",
    "HELPER_DUTIES",
    "INSTRUCTOR_DUTIES",
    "INSTRUCTOR_GRIDS",
    "LEADER_DUTIES",
    "POLICE_DUTIES",
    "POLICE_GRIDS",
    "SURNAMES",
    "WORKER_DUTIES",
    "build_people",
    "fake_names",
    "make_staff",
]


SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯健俊帆帅旭宁鑫婷雪琳晨阳佳怡欣悦子涵梓轩思雨一诺"
)


def fake_names(rng, n: int) -> list[str]:
    """Seeded made-up Chinese names (surname + one or two given characters)."""
    out = []
    for _ in range(n):
        given = "".join(rng.choice(GIVEN, size=int(rng.integers(1, 3))))
        out.append(str(rng.choice(SURNAMES)) + given)
    return out


POLICE_GRIDS = 4  # one community police officer serves this many grids
INSTRUCTOR_GRIDS = 6  # one street-office cadre guides this many grids
FOUR_FIFTY_GRIDS = ("001", "007")  # grids (by sequence) with an extra worker on a 4050 post
LEADER_DUTIES = "网格第一责任人，统筹{grid}各项工作，每月召集网格议事会，督办重大事项"
WORKER_DUTIES = "负责{grid}{roads}沿线入户登记与信息更新，每周巡查不少于15小时，发现问题及时上报"
POLICE_DUTIES = "负责{grids}治安防控、流动人口与出租房屋管理、重点人员管控"
INSTRUCTOR_DUTIES = "街道联系干部，指导督查{grids}网格工作，协调街道部门处置上报事项"
HELPER_DUTIES = "楼栋长，协助{grid}{roads}一带信息采集、政策宣传与邻里纠纷劝解"
FOUR_FIFTY_DUTIES = "“4050”公益性岗位，协助{grid}环境巡查与便民服务（不单独负责网格）"


def make_staff(codes: list[str], roads_by_grid: dict[str, list[str]], rng) -> pd.DataFrame:
    """Fictional staff, several per grid: a grid leader (网格长) and a full-time grid worker
    (专职网格员) in every grid, a community police officer per :data:`POLICE_GRIDS` grids, a
    street-office instructor per :data:`INSTRUCTOR_GRIDS` grids, a building head (兼职网格员)
    in every other grid, and in the grids of :data:`FOUR_FIFTY_GRIDS` a second worker on a
    "4050" public-welfare post (``is_4050``: not counted when grids are made one per worker).

    Each has a staff number (``staff_no`` W0001…), a phone (fictional, 138 0000 xxxx), duties
    of their own (naming their grid and its roads) and a portrait ``photo_path`` (drawn by
    ``data/make_staff_photos.py``). The police do not publish their phones.
    """
    names = iter(fake_names(rng, 8 * len(codes)))
    rows = []

    def label(code: str) -> str:
        return f"第{int(code[-3:])}网格"

    def roads(code: str) -> str:
        return "、".join(roads_by_grid.get(code, [])[:2])

    def person(role: str, duties: str, grid_codes: list[str], *, is_4050: bool = False) -> None:
        n = len(rows) + 1
        rows.append(
            {
                "staff_id": f"S{n:03d}",
                "staff_no": f"W{n:04d}",
                "name": next(names),
                "role": role,
                "phone": f"1380000{n:04d}",
                "phone_published": role != "grid_police",
                "duties": duties,
                "grid_codes": ",".join(grid_codes),
                "is_4050": is_4050,
                "photo_path": photo_file_name(f"S{n:03d}"),
            }
        )

    for i, code in enumerate(codes):
        grid = label(code)
        person("grid_leader", LEADER_DUTIES.format(grid=grid), [code])
        person("grid_worker", WORKER_DUTIES.format(grid=grid, roads=roads(code)), [code])
        if i % 2 == 0:
            person("part_time_worker", HELPER_DUTIES.format(grid=grid, roads=roads(code)), [code])
        if code[-3:] in FOUR_FIFTY_GRIDS:
            person("grid_worker", FOUR_FIFTY_DUTIES.format(grid=grid), [code], is_4050=True)
    for size, role, duties in (
        (POLICE_GRIDS, "grid_police", POLICE_DUTIES),
        (INSTRUCTOR_GRIDS, "grid_instructor", INSTRUCTOR_DUTIES),
    ):
        for k in range(0, len(codes), size):
            served = codes[k : k + size]
            span = f"{label(served[0])}至{label(served[-1])}"
            person(role, duties.format(grids=span), served)
    return pd.DataFrame(rows)


def build_people(out: Path, seed: int = SEED) -> dict:
    """Write the demo's people beside its grids and houses in ``out``: ``staff.csv`` with
    portraits, ``residents.csv`` and ``special_statuses.csv`` (each from its own stream of
    random numbers, so no other file changes)."""
    from make_residents import make_residents

    grids = gpd.read_file(out / "grids.geojson")
    table = pd.read_csv(out / "houses.csv", dtype={"number": str, "building": str})
    houses = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
    joined = gpd.sjoin(houses, grids[["code", "geometry"]], predicate="within", how="inner")
    roads_by_grid = {
        code: part["road"].value_counts().index.tolist() for code, part in joined.groupby("code")
    }
    staff = make_staff(sorted(grids["code"]), roads_by_grid, np.random.default_rng(seed + 3))
    staff.to_csv(out / "staff.csv", index=False, encoding="utf-8", lineterminator="\n")
    folder = out / STAFF_PHOTO_FOLDER
    for old in folder.glob("S*.png"):
        old.unlink()
    write_staff_photos(staff, folder)  # placeholder portraits (illustrative)
    residents, specials = make_residents(table, seed=seed + 4)
    residents.to_csv(out / "residents.csv", index=False, encoding="utf-8", lineterminator="\n")
    specials.to_csv(
        out / "special_statuses.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    return {"staff": len(staff), "residents": len(residents), "special_statuses": len(specials)}
