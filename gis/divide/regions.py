"""Aggregating blocks into contiguous, compact grids near the household target.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely

from gis.divide.params import (
    ANNEAL_SEEDS,
    ANNEAL_STEPS_MIN,
    ANNEAL_STEPS_PER_BLOCK,
    ANNEAL_T_START,
    COMPACTNESS_WEIGHT,
    SHARED_EDGE_M,
)
from gis.errors import InputError

# --- adjacency and aggregation -------------------------------------------------------------------


def adjacency(polys: np.ndarray) -> nx.Graph:
    """Rook contiguity: polygons sharing a boundary longer than ``SHARED_EDGE_M``."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(polys)))
    if len(polys) < 2:
        return graph
    a, b = shapely.STRtree(polys).query(polys, predicate="touches")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return graph
    shared = shapely.length(
        shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b]))
    )
    for i, j, length in zip(a, b, shared, strict=True):
        if length > SHARED_EDGE_M:
            graph.add_edge(int(i), int(j), length=float(length))
    return graph


@dataclass
class _BlockGraph:
    """What aggregation needs of the blocks: households, areas, perimeters, centroids and,
    per block, its rook neighbours with the length of the shared edge (metres)."""

    weights: np.ndarray
    areas: np.ndarray
    perimeters: np.ndarray
    centroids: np.ndarray
    neighbours: list[list[tuple[int, float]]]
    graph: nx.Graph

    @classmethod
    def of(cls, polys: np.ndarray, weights: np.ndarray, graph: nx.Graph) -> _BlockGraph:
        neighbours: list[list[tuple[int, float]]] = [[] for _ in range(len(polys))]
        for i, j, data in sorted(graph.edges(data=True)):
            neighbours[i].append((j, data["length"]))
            neighbours[j].append((i, data["length"]))
        for row in neighbours:
            row.sort()
        return cls(
            weights=np.asarray(weights, dtype=float),
            areas=shapely.area(polys),
            perimeters=shapely.length(polys),
            centroids=shapely.get_coordinates(shapely.centroid(polys)).reshape(-1, 2),
            neighbours=neighbours,
            graph=graph,
        )


@dataclass
class _Objective:
    """Cost of one grid: balance toward the target plus a compactness penalty.

    ``((h - target) / target)² + out-of-band + compactness × (1 - Polsby-Popper)``, where
    out-of-band is ``1 + 10 × (distance to the band / target)²`` outside ``[low, high]``
    and 0 inside: a grid out of band costs more than any in-band deviation or shape.
    """

    target: float
    low: float
    high: float
    compactness: float = COMPACTNESS_WEIGHT

    def balance(self, households: float) -> float:
        cost = ((households - self.target) / self.target) ** 2
        outside = max(0.0, self.low - households, households - self.high)
        if outside > 1e-9:
            cost += 1.0 + 10.0 * (outside / self.target) ** 2
        return cost

    def __call__(self, households: float, area_m2: float, perimeter_m: float) -> float:
        if area_m2 <= 0:
            return self.balance(households)
        inverse_pp = perimeter_m**2 / (4 * math.pi * area_m2)  # 1 for a disc, grows with length
        return self.balance(households) + self.compactness * max(inverse_pp - 1.0, 0.0)


class _Partition:
    """Blocks labelled with regions, with each region's households, area, perimeter and
    cost kept up to date as single blocks move (perimeter = sum of block perimeters minus
    twice the edges shared inside the region). A region whose last block leaves is gone."""

    def __init__(
        self,
        blocks: _BlockGraph,
        labels: np.ndarray,
        objective: _Objective,
        vanish_below: float = 0.0,
    ):
        self.blocks, self.labels, self.objective = blocks, labels.copy(), objective
        self.vanish_below = vanish_below
        regions = [int(r) for r in np.unique(labels[labels >= 0])]
        self.households = {r: float(blocks.weights[labels == r].sum()) for r in regions}
        self.area = {r: float(blocks.areas[labels == r].sum()) for r in regions}
        self.perimeter = {r: float(blocks.perimeters[labels == r].sum()) for r in regions}
        self.members = {r: set(np.flatnonzero(labels == r).tolist()) for r in regions}
        for i, row in enumerate(blocks.neighbours):
            for j, length in row:
                if i < j and labels[i] == labels[j] and labels[i] >= 0:
                    self.perimeter[int(labels[i])] -= 2 * length
        self.costs = {r: self._cost(r) for r in regions}

    def _cost(self, region: int) -> float:
        return self.objective(self.households[region], self.area[region], self.perimeter[region])

    def _outside(self, households: float) -> bool:
        o = self.objective
        return not o.low - 1e-9 <= households <= o.high + 1e-9

    def score(self) -> tuple[int, float]:
        """Grids out of band first, then the total cost (lower is better)."""
        outside = sum(1 for h in self.households.values() if self._outside(h))
        return outside, round(sum(self.costs[r] for r in sorted(self.costs)), 9)

    def _shared(self, block: int, region: int) -> float:
        labels = self.labels
        return sum(length for j, length in self.blocks.neighbours[block] if labels[j] == region)

    def _after(self, block: int, to: int) -> tuple[tuple[float, float, float], ...]:
        """(households, area, perimeter) of the block's region and of ``to`` after a move."""
        b, frm = self.blocks, int(self.labels[block])
        w, a, p = b.weights[block], b.areas[block], b.perimeters[block]
        s_from, s_to = self._shared(block, frm), self._shared(block, to)
        return (
            (self.households[frm] - w, self.area[frm] - a, self.perimeter[frm] - p + 2 * s_from),
            (self.households[to] + w, self.area[to] + a, self.perimeter[to] + p - 2 * s_to),
        )

    def move_gain(self, block: int, to: int) -> float:
        """Cost saved by moving ``block`` into region ``to`` (negative: worse)."""
        frm = int(self.labels[block])
        left, grown = self._after(block, to)
        after = self.objective(*grown)
        if len(self.members[frm]) > 1:
            after += self.objective(*left)
        return self.costs[frm] + self.costs[to] - after

    def can_leave(self, block: int, *, may_empty: bool = True) -> bool:
        """Whether ``block``'s region stays connected without it, or is then empty (allowed,
        with ``may_empty``, for a region holding fewer than ``vanish_below`` households)."""
        region = int(self.labels[block])
        labels, neighbours = self.labels, self.blocks.neighbours
        if len(self.members[region]) == 1:
            return may_empty and self.households[region] < self.vanish_below
        same = [j for j, _ in neighbours[block] if labels[j] == region]
        if len(same) <= 1:
            return True
        wanted, seen, stack = set(same), {same[0], block}, [same[0]]
        wanted.discard(same[0])
        while stack and wanted:
            for j, _ in neighbours[stack.pop()]:
                if j not in seen and labels[j] == region:
                    seen.add(j)
                    wanted.discard(j)
                    stack.append(j)
        return not wanted

    def move(self, block: int, to: int) -> None:
        frm = int(self.labels[block])
        (h_f, a_f, p_f), (h_t, a_t, p_t) = self._after(block, to)
        self.households[frm], self.area[frm], self.perimeter[frm] = h_f, a_f, p_f
        self.households[to], self.area[to], self.perimeter[to] = h_t, a_t, p_t
        self.members[frm].discard(block)
        self.members[to].add(block)
        self.labels[block] = to
        self.costs[to] = self._cost(to)
        if self.members[frm]:
            self.costs[frm] = self._cost(frm)
        else:
            for table in (self.households, self.area, self.perimeter, self.members, self.costs):
                del table[frm]

    def anneal(
        self, steps: int, seed: int = 0, t_start: float | None = None, t_end: float = 1e-3
    ) -> None:
        """Simulated annealing over single-block moves (fixed seed: deterministic), keeping
        the best partition seen by :meth:`score`. No region is emptied."""
        edges = np.array(sorted(self.blocks.graph.edges()), dtype=int).reshape(-1, 2)
        if len(edges) == 0 or len(self.households) < 2 or steps <= 0:
            return
        t_start = ANNEAL_T_START if t_start is None else t_start
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(edges), size=steps)
        sides = rng.integers(0, 2, size=steps)
        chance = rng.random(steps)
        temps = t_start * (t_end / t_start) ** np.linspace(0.0, 1.0, steps)
        best_labels, best_score = self.labels.copy(), self.score()
        labels = self.labels
        for step in range(steps):
            i, j = edges[picks[step]]
            block, other = (int(i), int(j)) if sides[step] else (int(j), int(i))
            here, to = int(labels[block]), int(labels[other])
            if here == to:
                continue
            gain = self.move_gain(block, to)
            if gain <= 0 and (
                len(self.members[here]) == 1 or chance[step] >= math.exp(gain / temps[step])
            ):
                continue
            if not self.can_leave(block, may_empty=False):
                continue
            self.move(block, to)
            if gain > 0:
                score = self.score()
                if score < best_score:
                    best_labels, best_score = labels.copy(), score
        if self.score() > best_score:
            self.__init__(self.blocks, best_labels, self.objective, self.vanish_below)  # type: ignore[misc]

    def dissolve_pockets(self) -> bool:
        """Give each region holding fewer than ``vanish_below`` households whole to the
        neighbouring region with which that lowers the cost most, if any does; return
        whether a region went."""
        labels, neighbours = self.labels, self.blocks.neighbours
        for region in sorted(self.households):
            if self.households[region] >= self.vanish_below:
                continue
            shared: dict[int, float] = {}
            for i in sorted(self.members[region]):
                for j, length in neighbours[i]:
                    if labels[j] != region:
                        shared[int(labels[j])] = shared.get(int(labels[j]), 0.0) + length
            best: tuple[float, int] | None = None
            for other, length in sorted(shared.items()):
                merged = self.objective(
                    self.households[region] + self.households[other],
                    self.area[region] + self.area[other],
                    self.perimeter[region] + self.perimeter[other] - 2 * length,
                )
                gain = self.costs[region] + self.costs[other] - merged
                if gain > 1e-9 and (best is None or gain > best[0]):
                    best = (gain, other)
            if best is not None:
                relabelled = labels.copy()
                relabelled[relabelled == region] = best[1]
                self.__init__(self.blocks, relabelled, self.objective, self.vanish_below)  # type: ignore[misc]
                return True
        return False

    def improve(self, max_sweeps: int = 60, *, may_empty: bool = False) -> None:
        """Local search: sweep the blocks in order, moving each boundary block to the
        neighbouring region where that lowers the total cost most, while any move helps
        (with ``may_empty``, a region under ``vanish_below`` may give up its last block)."""
        labels, neighbours = self.labels, self.blocks.neighbours
        for _ in range(max_sweeps):
            moved = False
            for block in range(len(labels)):
                here = int(labels[block])
                if here < 0:
                    continue
                targets = sorted({int(labels[j]) for j, _ in neighbours[block]} - {here, -1})
                if not targets:
                    continue
                gain, neg_to = max((self.move_gain(block, t), -t) for t in targets)
                if gain > 1e-9 and self.can_leave(block, may_empty=may_empty):
                    self.move(block, -neg_to)
                    moved = True
            if not moved:
                return


def _k_means_centres(xy: np.ndarray, w: np.ndarray, k: int, iterations: int = 30) -> np.ndarray:
    """Household-weighted k-means of block centroids, seeded by farthest-point sampling
    from the weighted mean (deterministic)."""
    mean = (xy * w[:, None]).sum(axis=0) / w.sum()
    first = int(np.argmax(np.hypot(*(xy - mean).T)))
    chosen = [first]
    dist = np.hypot(*(xy - xy[first]).T)
    while len(chosen) < min(k, len(xy)):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    centres = xy[chosen].astype(float)
    for _ in range(iterations):
        d = np.hypot(xy[:, None, 0] - centres[None, :, 0], xy[:, None, 1] - centres[None, :, 1])
        nearest = np.argmin(d, axis=1)
        new = centres.copy()
        for c in range(len(centres)):
            mine = nearest == c
            if w[mine].sum() > 0:
                new[c] = (xy[mine] * w[mine, None]).sum(axis=0) / w[mine].sum()
        if np.allclose(new, centres):
            break
        centres = new
    return centres


def _grow(blocks: _BlockGraph, nodes: list[int], k: int, target: float, high: float) -> np.ndarray:
    """Seed ``k`` regions on ``nodes`` (blocks over ``high`` first, then the populated
    blocks nearest the k-means centres) and grow them together: the region holding fewest
    households takes the unassigned neighbouring block nearest its centre, preferring one
    that keeps it within ``high``, until every region reaches ``target``; blocks still
    unassigned then go to the neighbouring region holding fewest households."""
    w, xy = blocks.weights, blocks.centroids
    labels = np.full(len(w), -1)
    nodes_arr = np.array(nodes)
    populated = nodes_arr[w[nodes_arr] > 0]
    heavy = [int(i) for i in populated if w[i] > high]
    seeds: list[int] = heavy[:k]
    free = [int(i) for i in populated if w[i] <= high]
    if len(seeds) < k and free:
        centres = _k_means_centres(xy[free], w[free], k - len(seeds))
        taken = set(seeds)
        for c in centres:
            order = np.lexsort((free, np.hypot(*(xy[free] - c).T)))
            pick = next((free[o] for o in order if free[o] not in taken), None)
            if pick is not None:
                seeds.append(pick)
                taken.add(pick)
    if not seeds:
        seeds = [nodes[0]]
    centre = {r: xy[s] for r, s in enumerate(seeds)}
    totals = {r: float(w[s]) for r, s in enumerate(seeds)}
    for r, s in enumerate(seeds):
        labels[s] = r
    in_nodes = np.zeros(len(w), dtype=bool)
    in_nodes[nodes_arr] = True

    def frontier(r: int) -> list[int]:
        members = np.flatnonzero(labels == r)
        return sorted(
            {j for i in members for j, _ in blocks.neighbours[i] if labels[j] < 0 and in_nodes[j]}
        )

    growing = set(totals)
    while growing:
        r = min(growing, key=lambda q: (totals[q], q))
        options = frontier(r)
        if not options or totals[r] >= target:
            growing.discard(r)
            continue
        dist = np.hypot(*(xy[options] - centre[r]).T)
        fits = np.array([totals[r] + w[j] <= high for j in options])
        pick = options[int(np.lexsort((options, dist, ~fits))[0])]
        labels[pick] = r
        totals[r] += float(w[pick])
    while (labels[nodes_arr] < 0).any():
        progress = False
        for i in nodes:
            if labels[i] >= 0:
                continue
            near = sorted({int(labels[j]) for j, _ in blocks.neighbours[i] if labels[j] >= 0})
            if near:
                r = min(near, key=lambda q: (totals[q], q))
                labels[i] = r
                totals[r] += float(w[i])
                progress = True
        if not progress:  # cannot happen on a connected component
            break
    return labels


def _k_choices(households: float, heavy: np.ndarray, target: float, low: float, high: float):
    """Numbers of regions worth trying for a component: each block above ``high`` alone,
    the rest in regions that the band allows, near ``rest / target``."""
    rest = households - float(heavy.sum())
    if rest <= 0:
        return [max(1, len(heavy))]
    lo_k, hi_k = math.ceil(rest / high - 1e-9), math.floor(rest / low + 1e-9) if low > 0 else 10**9
    centre = max(1, round(rest / target))
    ks = [k for k in (centre, centre + 1, centre - 1) if k >= 1 and lo_k <= k <= hi_k]
    if not ks:
        ks = [centre]
    return [len(heavy) + k for k in ks]


def _apportion(components: list[list[int]], weights: np.ndarray, n_grids: int) -> list[int]:
    """Grids per connected component for exactly ``n_grids`` in all: one each, the rest by
    households (largest remainder; ties to the earlier component)."""
    if n_grids < len(components):
        raise InputError(
            f"社区由 {len(components)} 块互不相邻的区域组成，不能只分 {n_grids} 个网格 / the "
            f"community has {len(components)} separate parts: fewer than {n_grids} grids"
        )
    totals = np.array([float(weights[c].sum()) for c in components])
    extra = n_grids - len(components)
    share = totals / totals.sum() * extra if totals.sum() > 0 else np.zeros(len(components))
    ks = np.floor(share).astype(int)
    order = sorted(range(len(components)), key=lambda i: (-(share[i] - ks[i]), i))
    for i in order[: extra - int(ks.sum())]:
        ks[i] += 1
    return [1 + int(k) for k in ks]


def aggregate(
    polys: np.ndarray,
    weights: np.ndarray,
    graph: nx.Graph,
    *,
    target: float,
    band: float,
    min_share: float,
    n_grids: int | None = None,
) -> np.ndarray:
    """Region label per block: contiguous regions balanced toward ``target`` (see the
    module docstring, *Aggregation*); with ``n_grids``, exactly that many regions (no region
    is dissolved or merged)."""
    low, high = (1 - band) * target, (1 + band) * target
    blocks = _BlockGraph.of(polys, weights, graph)
    objective = _Objective(target, low, high)
    labels = np.full(len(polys), -1)
    offset = 0
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: c[0])
    fixed = None if n_grids is None else _apportion(components, weights, n_grids)
    for c, nodes in enumerate(components):
        w = blocks.weights[nodes]
        heavy = w[w > high]
        best: tuple[tuple[int, float], np.ndarray] | None = None
        ks = _k_choices(float(w.sum()), heavy, target, low, high) if fixed is None else [fixed[c]]
        if fixed is not None and fixed[c] > len(nodes):
            raise InputError(
                f"只有 {len(nodes)} 个街块（道路围合或建筑间可切分的区域），不能分成 {fixed[c]}"
                f" 个网格 / only {len(nodes)} blocks to make {fixed[c]} grids from"
            )
        tries = [(k, seed) for seed in range(ANNEAL_SEEDS) for k in ks]
        for k, seed in tries:
            part = _Partition(
                blocks, _grow(blocks, nodes, k, target, high), objective, min_share * target
            )
            steps = max(ANNEAL_STEPS_MIN, ANNEAL_STEPS_PER_BLOCK * len(nodes))
            part.improve()
            part.anneal(steps, seed=seed)
            if fixed is None:
                part.improve(may_empty=True)
                while part.dissolve_pockets():
                    pass
            if len(part.households) < k:  # a pocket gave itself up: balance the rest again
                part.anneal(steps, seed=seed)
                part.improve()
            if fixed is not None and len(part.households) < k:
                continue  # fewer seeds than grids (too few populated blocks)
            score = part.score()
            if best is None or score < best[0]:
                best = (score, part.labels)
            if best[0][0] <= len(heavy):
                break  # only blocks that alone exceed the band are out of it
        if best is None:
            raise InputError(
                f"有人居住的街块太少，不能分成 {ks[0]} 个网格 / too few populated blocks to make"
                f" {ks[0]} grids"
            )
        mine = best[1][nodes]
        _, dense = np.unique(mine, return_inverse=True)
        labels[nodes] = dense + offset
        offset += int(dense.max()) + 1
    if n_grids is not None:
        return labels
    for _ in range(5):
        merged = _merge_underfilled(polys, weights, labels, graph, min_share * target)
        if (merged == labels).all():
            break
        _, labels = np.unique(merged, return_inverse=True)
        part = _Partition(blocks, labels, objective, min_share * target)
        part.improve()
        labels = part.labels
    _, labels = np.unique(
        _merge_underfilled(polys, weights, labels, graph, min_share * target), return_inverse=True
    )
    return labels


def polsby_popper(geom: shapely.Geometry) -> float:
    perimeter = shapely.length(geom)
    return float(4 * math.pi * shapely.area(geom) / perimeter**2) if perimeter > 0 else 0.0


def _merge_underfilled(
    polys: np.ndarray, weights: np.ndarray, labels: np.ndarray, graph: nx.Graph, low: float
) -> np.ndarray:
    """Merge empty regions into a neighbour, then under-filled neighbour pairs."""
    labels = labels.copy()

    def region_graph() -> tuple[nx.Graph, dict[int, float]]:
        totals = {int(r): float(weights[labels == r].sum()) for r in np.unique(labels)}
        rg = nx.Graph()
        rg.add_nodes_from(totals)
        for i, j, data in graph.edges(data=True):
            a, b = int(labels[i]), int(labels[j])
            if a != b:
                prev = rg.get_edge_data(a, b, {"length": 0.0})["length"]
                rg.add_edge(a, b, length=prev + data["length"])
        return rg, totals

    def union(r: int, s: int) -> shapely.Geometry:
        return shapely.coverage_union_all(polys[(labels == r) | (labels == s)])

    while True:
        rg, totals = region_graph()
        empty = [r for r in sorted(totals) if totals[r] <= 0 and rg.degree(r) > 0]
        if empty:
            r = empty[0]
            s = max(rg.neighbors(r), key=lambda n: (rg[r][n]["length"], -n))
            labels[labels == r] = s
            continue
        pairs = [(r, s) for r, s in rg.edges() if totals[r] < low and totals[s] < low]
        if not pairs:
            return labels
        r, s = max(pairs, key=lambda p: (polsby_popper(union(*p)), -min(p), -max(p)))
        labels[labels == max(r, s)] = min(r, s)
