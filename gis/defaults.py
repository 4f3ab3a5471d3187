"""The defaults of wangge, written once: the library, the settings, the API, the CLI and the
README all read them from here (the lowest layer, so that every layer may).

>>> DEFAULT_NOISE_M < DEFAULT_TOLERANCE_M <= MAX_TOLERANCE_M
True
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CODE_FIELD",
    "DEFAULT_HOUSEHOLD_BAND",
    "DEFAULT_MAX_ACCURACY_M",
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MAX_SPEED_KMH",
    "DEFAULT_NOISE_M",
    "DEFAULT_SPEED_SLACK_M",
    "DEFAULT_TARGET_HOUSEHOLDS",
    "DEFAULT_THRESHOLD_HOURS",
    "DEFAULT_TOLERANCE_M",
    "DOP_UERE_M",
    "MAX_TOLERANCE_M",
    "TIMEZONE",
]

DEFAULT_TOLERANCE_M = 0.5
"""Coverage tolerance in metres: narrower gaps are slivers, closer edges must match, and
repair snaps within it (setting ``WANGGE_TOLERANCE_M``)."""

MAX_TOLERANCE_M = 100.0
"""The largest tolerance the API accepts for one request, in metres."""

DEFAULT_NOISE_M = 0.001
"""Differences narrower than this many metres are numeric noise from projections and file
formats, not findings (setting ``WANGGE_NOISE_FLOOR_M``)."""

DEFAULT_CODE_FIELD = "code"
"""The column of a grids layer holding the 15-digit grid code."""

DEFAULT_TARGET_HOUSEHOLDS = 300
"""Households a grid should hold when dividing or balancing."""

DEFAULT_HOUSEHOLD_BAND = 0.2
"""How far (as a share of the target) a grid's households may stray and still be ``ok``."""

# Patrol logs (the reasons for each value are given in :mod:`gis.patrol`).

TIMEZONE = "Asia/Shanghai"
"""Patrol time is split into days at midnight in this time zone."""

DEFAULT_MAX_SPEED_KMH = 30.0
"""A fix implying a faster move than this from the last kept fix is dropped (km/h)."""

DEFAULT_MAX_ACCURACY_M = 50.0
"""Fixes whose reported accuracy is worse than this many metres are dropped."""

DEFAULT_MAX_GAP_S = 600.0
"""A gap between kept fixes longer than this many seconds credits nothing (the track is split)."""

DEFAULT_SPEED_SLACK_M = 10.0
"""Metres of position error allowed before the speed test drops a fix."""

DEFAULT_THRESHOLD_HOURS = 15.0
"""Patrol hours a worker should reach in a week (``under_15h`` flags fewer)."""

DOP_UERE_M = 5.0
"""Metres of error per unit of dilution of precision, for fixes that report DOP only."""
