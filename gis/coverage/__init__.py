"""Check and repair a division of a community into grids (纵向到底、横向到边).

:mod:`gis.coverage.validate` finds the defects (:func:`validate`, :func:`is_valid_division`,
:func:`findings_to_geojson`); :mod:`gis.coverage.repair` fixes them (:func:`repair`,
:func:`changes_to_geojson`). Everything public is re-exported here. Both judge a division in
its own coordinates scaled to metres (:mod:`gis.coverage.plane`) and share
:mod:`gis.coverage.common`; the speed engine is in :mod:`gis.coverage.snapping`,
:mod:`gis.coverage.segments`, :mod:`gis.coverage.widths`, :mod:`gis.coverage.junctions` and
:mod:`gis.coverage.context`.
"""

from gis.coverage.repair import CHANGE_ACTIONS, CHANGE_COLUMNS, changes_to_geojson, repair
from gis.coverage.validate import (
    FINDING_COLUMNS,
    FINDING_KINDS,
    SEVERITY_BY_KIND,
    findings_to_geojson,
    is_valid_division,
    validate,
)

__all__ = [
    "CHANGE_ACTIONS",
    "CHANGE_COLUMNS",
    "FINDING_COLUMNS",
    "FINDING_KINDS",
    "SEVERITY_BY_KIND",
    "changes_to_geojson",
    "findings_to_geojson",
    "is_valid_division",
    "repair",
    "validate",
]
