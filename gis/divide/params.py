"""Constants and road classes of the automatic division.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

NON_SPLITTING_CLASSES: frozenset[str] = frozenset(
    {
        "rail",
        "railway",
        "subway",
        "light_rail",
        "tram",
        "monorail",
        "narrow_gauge",
        "funicular",
        "ferry",
        "aerialway",
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "razed",
    }
)
TUNNEL_FIELDS = ("tunnel", "is_tunnel")
BRIDGE_FIELDS = ("bridge", "is_bridge")
FALSE_TEXT = frozenset({"", "no", "false", "0", "n", "f", "none", "nan"})

GRID_SIZE_M = 1e-6  # snap-rounding grid for noding
CLIP_MARGIN_M = 1.0  # roads are clipped to the boundary grown by this
CUT_AREA_M2 = 0.01  # a footprint is cut when two blocks each hold more than this of it
SHARED_EDGE_M = 0.01  # rook contiguity: shared boundary longer than this
MIN_GAP_M = 1.0  # a cut between buildings needs a gap at least this wide
CUT_OVERSHOOT_M = 1e-3  # a cut line reaches this far past the block it cuts
COMPACTNESS_WEIGHT = 0.02  # weight of (1 - Polsby-Popper) in a grid's cost
ANNEAL_STEPS_PER_BLOCK = 300  # simulated-annealing moves tried per block
ANNEAL_SEEDS = 3  # annealing runs (fixed seeds 0, 1, …) per number of grids tried
ANNEAL_STEPS_MIN = 20_000  # at least this many moves per annealing run
ANNEAL_T_START = 1.0  # annealing temperature at the start (cost units)
