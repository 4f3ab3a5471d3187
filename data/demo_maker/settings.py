"""The demo's fixed settings: seed, community, windows, sizes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shapely.geometry import Polygon

__all__ = [
    "COMMUNITY",
    "COMMUNITY_WINDOW",
    "ENTRANCE_MAX_HOUSEHOLDS",
    "FLOOR_HEIGHT_M",
    "M2_PER_HOUSEHOLD",
    "N_GRIDS",
    "N_INCIDENTS",
    "REPORTED_END",
    "SEED",
]


SEED = 20261101


# Illustrative codes: 310101 is Huangpu district (GB/T 2260); street 002 and community 005
# are made up for the demo and do not claim to be the official numbers.
COMMUNITY = {
    "code": "310101002005",
    "name": "外滩源社区",
    "street_name": "外滩街道",
    "district_name": "黄浦区",
    "city": "上海市",
}


# Faces (city blocks) whose representative point falls in this polygon make the community.
# It follows the west bank of the Huangpu and leaves out the river and Pudong.
COMMUNITY_WINDOW = Polygon(
    [
        (121.4805, 31.2458),
        (121.4885, 31.2458),
        (121.4890, 31.2390),
        (121.4905, 31.2345),
        (121.4935, 31.2310),
        (121.4935, 31.2268),
        (121.4805, 31.2268),
    ]
)
N_GRIDS = 12
M2_PER_HOUSEHOLD = 80.0
FLOOR_HEIGHT_M = 3.0
ENTRANCE_MAX_HOUSEHOLDS = 150  # one door plate per this many households in a big building
REPORTED_END = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=8)))
N_INCIDENTS = 400
