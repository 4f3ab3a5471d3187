"""The defaults of wangge, written once: the library, the settings, the API, the CLI and the
README all read them from here (the lowest layer, so that every layer may).

>>> DEFAULT_NOISE_M < DEFAULT_TOLERANCE_M <= MAX_TOLERANCE_M
True
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CODE_FIELD",
    "DEFAULT_HOUSEHOLD_BAND",
    "DEFAULT_NOISE_M",
    "DEFAULT_TARGET_HOUSEHOLDS",
    "DEFAULT_TOLERANCE_M",
    "MAX_TOLERANCE_M",
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
