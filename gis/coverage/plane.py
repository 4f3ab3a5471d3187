"""The plane a division is judged in: its own coordinates, scaled per axis to metres.

Topology (which edges match, where gaps, overlaps, spills and T-junctions are) is decided
in the coordinates the division is drawn in. A straight edge in lon/lat bows by millimetres
once projected to a metric CRS, so a corner of one grid lying exactly on the long edge of
its neighbour (a T-junction) would lie a few millimetres off it there, and a tiling exact in
lon/lat would show slivers and spills that are not in the data.

:class:`Plane` maps the division's coordinates by one affine map, the derivative of the
projection to the metric CRS at the centre of the data: ``p -> m0 + J (p - c)``. For lon/lat
that is metres per degree of longitude and of latitude at the data's latitude (and the
small rotation of the metric CRS's grid north); for a projected CRS other than the metric
one, its scale and rotation against it. An affine map keeps straight lines straight, so a
tiling exact in its own CRS stays exact, and distances come out in metres to within the
variation of the scale over the data (about 0.2 % over 20 km at 53°N): good enough to
compare with ``noise_m`` and ``tolerance_m``. Areas, widths and lengths of what is found are
measured after projecting it to the metric CRS (:meth:`Plane.to_metric`). When the division
is already in the metric CRS the plane is that CRS itself, coordinate for coordinate.
"""

from __future__ import annotations

import functools

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.crs import WGS84, geometries_to_crs, transformer
from gis.errors import CRSError

__all__ = ["Plane", "transformer"]


class Plane:
    """The coordinates of a division (CRS ``source``) mapped affinely to about metres.

    Parameters
    ----------
    source : CRS
        The CRS the division is drawn in (the grids' CRS).
    metric : CRS
        The metric CRS measurements are made in (:func:`gis.crs.metric_crs`).
    bounds : array-like of 4 floats
        Extent of the data in ``source``; the map is the projection's derivative at its centre.

    Examples
    --------
    >>> from pyproj import CRS
    >>> plane = Plane(CRS(4326), CRS(4549), (121.49, 31.24, 121.50, 31.25))
    >>> xy = plane.forward(np.array([[121.49, 31.24], [121.50, 31.24], [121.49, 31.25]]))
    >>> # 0.01° east and 0.01° north; on the ellipsoid 952.6 m and 1108.7 m (4549's scale 1.0002)
    >>> [round(float(d), 1) for d in np.hypot(*(xy[1:] - xy[0]).T)]
    [952.8, 1109.0]
    >>> Plane(CRS(4549), CRS(4549), (0, 0, 1, 1)).identity
    True
    """

    def __init__(self, source: CRS, metric: CRS, bounds) -> None:
        self.source = source
        self.metric = metric
        self.identity = source.is_exact_same(metric)
        self.rounding_m = 0.0  # how far rounding may move a vertex mapped by forward()
        if self.identity:
            return
        x0, y0, x1, y1 = (float(v) for v in bounds)
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        step = 1e-4 if source.is_geographic else 10.0  # ~10 m; the derivative is smooth
        probe = centre + np.array([[0, 0], [step, 0], [-step, 0], [0, step], [0, -step]])
        x, y = transformer(source, metric).transform(probe[:, 0], probe[:, 1])
        out = np.column_stack([x, y])
        if not np.isfinite(out).all():
            raise CRSError(f"cannot project the centre of the data {centre} to {metric}")
        jac = np.column_stack([(out[1] - out[2]) / (2 * step), (out[3] - out[4]) / (2 * step)])
        self.centre = centre
        self.origin = out[0]
        self.matrix = jac  # plane = origin + matrix @ (p - centre)
        self.inverse = np.linalg.inv(jac)
        # of the data's vertices: the difference from the centre (an ulp of the largest
        # source coordinate, scaled), the products and sums (ulps of the largest result)
        scale = float(np.abs(jac).sum(axis=1).max())
        largest_source = float(np.abs([x0, y0, x1, y1]).max())
        largest = float(np.abs(out[0]).max()) + scale * max(x1 - x0, y1 - y0)
        ulps = scale * float(np.spacing(largest_source)) + float(np.spacing(largest))
        self.rounding_m = 4 * ulps

    # --------------------------------------------------------------- coordinates

    def forward(self, xy: np.ndarray) -> np.ndarray:
        """Coordinates ``(n, 2)`` in ``source`` to the plane."""
        if self.identity:
            return xy
        return _affine(xy, self.centre, self.matrix, self.origin)

    def backward(self, xy: np.ndarray) -> np.ndarray:
        """Plane coordinates ``(n, 2)`` back to ``source``."""
        if self.identity:
            return xy
        return _affine(xy, self.origin, self.inverse, self.centre)

    # --------------------------------------------------------------- geometries

    def to_plane(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries in ``source`` mapped to the plane (Z dropped)."""
        if self.identity:
            return geoms
        return shapely.transform(geoms, self.forward)

    def to_source(self, geoms: np.ndarray) -> np.ndarray:
        """Plane geometries mapped back to ``source``."""
        if self.identity:
            return geoms
        return shapely.transform(geoms, self.backward)

    def to_metric(self, geoms: np.ndarray) -> np.ndarray:
        """Plane geometries projected to the metric CRS (vertex by vertex), for measuring."""
        if self.identity:
            return geoms
        project = self._to_metric

        def convert(xy: np.ndarray) -> np.ndarray:
            src = self.backward(xy)
            x, y = project.transform(src[:, 0], src[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, convert)

    @functools.cached_property
    def _to_metric(self) -> Transformer:
        return transformer(self.source, self.metric)  # hashing two CRSs costs: once

    def to_crs(self, geoms: np.ndarray, crs: CRS) -> np.ndarray:
        """Plane geometries in ``crs`` (via ``source``)."""
        return geometries_to_crs(self.to_source(geoms), self.source, crs)

    def lonlat(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates ``(n, 2)`` as WGS84 lon and lat."""
        src = self.backward(xy)
        return transformer(self.source, WGS84).transform(src[:, 0], src[:, 1])

    def measure(self, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The parts in the metric CRS and their areas in m²."""
        metric = self.to_metric(parts)
        return metric, shapely.area(metric)


def _affine(xy: np.ndarray, before: np.ndarray, matrix: np.ndarray, after: np.ndarray):
    """``(xy - before) @ matrix.T + after``, column by column: a 2 × 2 product by numpy's
    matmul takes ten times as long on a million points."""
    x, y = xy[:, 0] - before[0], xy[:, 1] - before[1]
    out = np.empty((len(xy), 2))
    out[:, 0] = matrix[0, 0] * x + matrix[0, 1] * y + after[0]
    out[:, 1] = matrix[1, 0] * x + matrix[1, 1] * y + after[1]
    return out
