"""The patrol-log defaults of :mod:`gis.patrol` (the reasons for each value are there).

Kept apart from :mod:`gis.patrol` so that they can be read without loading pandas and
geopandas: the ``wangge patrol`` commands show them in their help.
"""

__all__ = [
    "DEFAULT_MAX_ACCURACY_M",
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MAX_SPEED_KMH",
    "DEFAULT_SPEED_SLACK_M",
    "DEFAULT_THRESHOLD_HOURS",
    "DOP_UERE_M",
    "TIMEZONE",
]

TIMEZONE = "Asia/Shanghai"
DEFAULT_MAX_SPEED_KMH = 30.0
DEFAULT_MAX_ACCURACY_M = 50.0
DEFAULT_MAX_GAP_S = 600.0
DEFAULT_SPEED_SLACK_M = 10.0
DEFAULT_THRESHOLD_HOURS = 15.0
DOP_UERE_M = 5.0
