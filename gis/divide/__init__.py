"""Automatic division of a community into balanced grids (自动划分网格).

:func:`blocks_from_roads` cuts the community boundary into blocks along its road network;
:func:`divide` counts households per block, splits blocks that alone hold far more than the
target, and aggregates blocks into contiguous, compact grids whose household counts sit
near the target.

Everything is computed in metres in :func:`gis.crs.metric_crs` of the boundary; results are
returned in the boundary's CRS.

Rules decided here (the issue is silent on them)
------------------------------------------------
* **Which lines split blocks.** The class of a road is read from ``road_class_field`` if
  given, else from ``highway`` (OpenStreetMap), else from ``kind`` and ``kind_detail``
  (vector-tile extracts); a file with none of these has every line splitting. A line
  whose class is empty (e.g. a railway row of an OSM file with a ``highway`` column) does
  not split. Rail, subway, tram, ferry, aerialway and not-built roads (``proposed``,
  ``construction``, ``abandoned``, ``disused``, ``razed``) do not split
  (:data:`NON_SPLITTING_CLASSES`), nor do tunnels and bridges (a truthy ``tunnel``,
  ``is_tunnel``, ``bridge`` or ``is_bridge``; ``"no"``, ``"false"``, ``"0"`` are false),
  unless ``split_classes`` names the class or ``split_tunnels``/``split_bridges`` is set.
  ``split_classes`` matches any of a row's classes (for vector tiles ``kind`` and
  ``kind_detail``). ``barriers`` (rivers, walls, fences: lines, or polygons whose outline
  is used) always split.
* **Noding.** The boundary outline and the splitting lines (clipped to the boundary grown
  by 1 m) are noded together with snap rounding on a 1 µm grid
  (``shapely.union_all(grid_size=1e-6)``) and polygonised; dangles and lines past the
  boundary drop out, faces outside the boundary (or in its holes) are dropped. The blocks
  thus tile the boundary exactly: adjacent blocks share identical vertices.
* **Buildings are never split.** Footprints (the houses when they are polygons, or
  ``buildings``) that lie in more than one block by more than 0.01 m² each make those
  blocks one block (the splitting line is ignored where it crosses a building). A
  footprint crossing the community boundary is only the part inside.
* **Households.** Point houses: the ``households_field`` of each point summed per block
  (the block covering it; a point on a shared edge goes to the block listed first, as in
  :func:`gis.assign.assign_points`); a missing field or an empty value counts one. Footprint
  houses: each footprint counts for the block holding most of its area. Houses outside
  the boundary are ignored (counted in the report's attributes).
* **Oversized blocks.** A block holding more than ``(1 + band) × target`` is cut by
  straight lines that pass between buildings, never through one (every road class
  already splits blocks, so a block left oversized has no road crossing it). Candidate
  lines run at 0°, 45°, 90°, 135° and along/across the block's minimum rotated
  rectangle; for each direction the footprints (and house points) are projected on the
  normal, and every gap between their projections (at least 1 m wide; the line runs
  through its middle) is a candidate. The cut chosen brings one side closest to
  ``floor(k/2)/k`` of the block's households, ``k = round(households / target)``; ties
  go to the shorter cut. The pieces are cut again while oversized (bisection). A block
  with no such gap stays whole and is flagged.
* **Aggregation.** Blocks are joined when they share an edge longer than 1 cm (rook
  contiguity from shared boundary length; corner touches do not count), in a :mod:`networkx`
  graph; each connected part of it is divided on its own (:func:`aggregate`). A grid's cost
  is ``((h - target) / target)²``, plus ``1 + 10 × (distance to the band / target)²`` when
  ``h`` is outside the band, plus ``0.02 × (1 / Polsby-Popper - 1)`` (perimeter² / (4π area)
  - 1, which grows steeply for strips); the division minimises the sum. Grids out of band
  come first: a division with fewer of them always wins. The number of grids tried: one per
  block holding more than ``(1 + band) × target`` (it is a grid alone), plus ``round(rest /
  target)`` and one either side, within what the band allows (``rest / high ≤ k ≤ rest /
  low``). For each: seeds are the oversized blocks and the populated blocks nearest the
  centres of a household-weighted k-means of block centroids (farthest-point start); the
  regions grow together, the one holding fewest households taking the neighbouring block
  nearest its centre (:func:`gis.divide.regions._grow`); then single boundary blocks move
  between neighbouring regions by steepest descent, simulated annealing (``max(20000, 300 ×
  blocks)`` moves, temperature 1 → 0.001) and steepest descent again. A move never
  disconnects a region. A region holding fewer than ``min_share × target`` (a pocket seeded
  where little can join it) may then give up its blocks, or go whole to the neighbour for
  which that lowers the cost; the rest is annealed again. Tries run seed by seed (fixed
  seeds 0, 1, 2: the result is deterministic), each over the numbers of grids (``round``,
  one more, one fewer); the first division that leaves only oversized blocks out of band is
  kept, else the best over all tries. PySAL ``spopt``'s ``MaxPHeuristic`` was tried first
  and dropped: its simulated-annealing loop can cycle without end (it did on the demo
  community with seed 1), and its objective has no ceiling on households;
  ``AZP``/``RegionKMeansHeuristic`` take a fixed number of regions and no band either.
* **Under-filled neighbours.** Afterwards, while two neighbouring grids both hold fewer
  than ``min_share × target``, the pair whose union is most compact is merged and the
  blocks are moved again by steepest descent (at most five rounds; a last merge pass ends
  it, so the rule holds). A grid with no household at all (a park, a campus) goes to the
  neighbour sharing its longest edge.
* **Numbering.** Grids are numbered by :func:`gis.codes.spatial_order` (rows north→south,
  west→east), as codes ``prefix + 001…`` when ``code_prefix`` is given, else ``"001"…``;
  names ``第N网格``.
"""

from __future__ import annotations

from gis.divide.balanced import divide
from gis.divide.households import band_summary, household_weights
from gis.divide.params import NON_SPLITTING_CLASSES
from gis.divide.roads import blocks_from_roads, road_splits

__all__ = [
    "NON_SPLITTING_CLASSES",
    "band_summary",
    "blocks_from_roads",
    "divide",
    "household_weights",
    "road_splits",
]
