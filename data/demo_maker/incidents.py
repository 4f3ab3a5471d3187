"""The demo's incidents: categories, descriptions, reports in space and time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, Polygon

from demo_maker.settings import N_INCIDENTS, REPORTED_END

__all__ = ["DESCRIPTIONS", "FOUNDATION_CODES", "make_incidents", "read_categories"]


def read_categories(path: Path) -> pd.DataFrame:
    """Read the incident category code table."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


DESCRIPTIONS = {
    "0101": ["党员组织关系转入登记", "楼组党小组活动场地需协调"],
    "0102": ["新成立业主委员会需党建指导", "两新组织党员情况摸排"],
    "0201": ["沿街新开一家便利店", "沿街店铺更换经营者", "临街餐饮店新开业"],
    "0202": ["沿街店铺关闭停业", "店铺转为仓库使用"],
    "0301": ["屋顶新搭建违章阁楼", "天井内新砌违法建筑", "阳台外扩违法搭建"],
    "0302": ["电线杆上乱贴小广告", "沿街乱挂横幅", "楼道口乱堆杂物"],
    "0303": ["垃圾箱房周边垃圾未及时清运", "弄堂口生活垃圾堆积"],
    "0304": ["化粪池满溢", "窨井冒溢污水"],
    "0305": ["装修垃圾堆放路边", "建筑垃圾未按规定清运"],
    "0306": ["绿化带被踩踏损坏", "公共垃圾桶损坏", "公厕设施损坏"],
    "0401": ["新生儿出生登记", "育龄妇女信息变更"],
    "0402": ["流动人口婚育证明核查", "计生家庭特别扶助申请"],
    "0501": ["居民失业登记", "就业困难人员求助"],
    "0502": ["居民办理退休", "退休人员社会化管理登记"],
    "0503": ["居民患大病需救助", "重病家庭申请医疗救助"],
    "0504": ["困难家庭申请临时救助", "生活困难求助"],
    "0505": ["残疾人证办理咨询", "残疾人家庭无障碍改造需求"],
    "0506": ["低保家庭收入变化", "低保对象户籍迁出"],
    "0507": ["独居老人多日未出门", "空巢老人需要上门探访"],
    "0601": ["群租房隐患", "新增出租房屋登记", "出租房屋人员变动"],
    "0602": ["流动人口新入住未登记", "流动人口居住证到期"],
    "0603": ["楼道堆放杂物堵塞消防通道", "电动车楼道内充电", "私拉电线存在火灾隐患"],
    "0604": ["社区矫正人员外出未报告", "社区矫正对象走访"],
    "0605": ["邻里噪音纠纷", "楼上漏水引发邻里矛盾", "停车位邻里纠纷"],
    "0606": ["多名居民酝酿集体上访", "动迁补偿引发群体不满"],
}


# The second-level categories of the foundation's table (the demo's incidents draw from these).
FOUNDATION_CODES = (
    "0101",
    "0102",
    "0201",
    "0202",
    "0301",
    "0302",
    "0303",
    "0304",
    "0305",
    "0306",
    "0307",
    "0401",
    "0402",
    "0501",
    "0502",
    "0503",
    "0504",
    "0505",
    "0506",
    "0507",
    "0601",
    "0602",
    "0603",
    "0604",
    "0605",
    "0606",
    "0607",
)


def make_incidents(
    boundary: Polygon, houses: gpd.GeoDataFrame, categories: pd.DataFrame, rng, n: int = N_INCIDENTS
) -> pd.DataFrame:
    """Seeded incidents: ~60 % around four hot spots, the rest spread over the community."""
    subs = categories[categories["parent"] != ""]
    # the demo draws from the foundation's categories only, so that extending the table
    # does not change the demo's incidents
    subs = subs[subs["code"].isin(FOUNDATION_CODES)]
    codes = subs["code"].to_numpy()
    weight = np.array([3.0 if c[:2] in {"03", "06"} else 1.0 for c in codes])
    weight /= weight.sum()
    hot = houses.geometry.values[rng.choice(len(houses), size=4, replace=False)]
    pts = []
    minx, miny, maxx, maxy = boundary.bounds
    while len(pts) < n:
        if rng.random() < 0.6:
            c = hot[int(rng.integers(0, 4))]
            p = Point(c.x + rng.normal(0, 50), c.y + rng.normal(0, 50))
        else:
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if boundary.contains_properly(p):
            pts.append(p)
    start = REPORTED_END - timedelta(days=92)
    rows = []
    for k, p in enumerate(pts):
        code = str(rng.choice(codes, p=weight))
        day = start + timedelta(days=int(rng.integers(0, 92)))
        if rng.random() < 0.85:
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            minute = int(rng.integers(8 * 60 + 30, 17 * 60 + 30))
        else:
            minute = int(rng.integers(0, 24 * 60))
        ts = day + timedelta(minutes=minute, seconds=int(rng.integers(0, 60)))
        texts = DESCRIPTIONS.get(code) or [subs.loc[subs["code"] == code, "name_zh"].iloc[0]]
        rows.append(
            {
                "incident_id": f"I{k + 1:05d}",
                "category_code": code,
                "reported_at": ts.isoformat(),
                "description": str(rng.choice(texts)),
                "geometry": p,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=houses.crs)
