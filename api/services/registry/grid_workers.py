"""Who counts when a community is divided into one grid per grid worker.

The plan divides a community "into as many small grids as it has staff, '4050' staff
excluded" ('4050' staff hold public-welfare posts of the 40/50-age re-employment programme).
Here the staff are the rows of a staff register (the ``wangge template staff`` workbook, XLSX
or CSV); a row counts when its role is one of :data:`DIVIDING_ROLES` and its optional
``4050人员`` column is not 是.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from api.services.registry.importer import read_table
from api.services.registry.validators import clean_staff
from gis.errors import InputError

__all__ = ["DIVIDING_ROLES", "GridWorkers", "count_grid_workers"]

DIVIDING_ROLES = frozenset({"grid_worker"})
"""Staff roles that take a grid of their own (专职网格员). Grid leaders, police, instructors,
part-time workers and post staff serve grids but do not set their number."""


@dataclass
class GridWorkers:
    """The rows of a staff register by whether they count toward the number of grids."""

    eligible: list[str] = field(default_factory=list)  # names of counted grid workers
    excluded_4050: list[str] = field(default_factory=list)  # grid workers on 4050 posts
    other_roles: int = 0  # rows of other roles (not counted)

    @property
    def count(self) -> int:
        """The number of grids to make."""
        return len(self.eligible)


def count_grid_workers(path: str | Path) -> GridWorkers:
    """Read the staff register at ``path`` and sort its rows (see the module docstring).

    Raises :class:`~gis.errors.InputError` naming every rejected row and field (the same
    checks as ``wangge import staff``), or when no grid worker counts.
    """
    rows, _ = read_table(path, "staff")
    found = GridWorkers()
    problems: list[str] = []
    for src in rows:
        rec, errors = clean_staff(src.values)
        if errors:
            problems += [
                f"第 {src.row} 行 / row {src.row} {e.field}={e.value!r}: {e.reason_zh} / "
                f"{e.reason_en}"
                for e in errors
            ]
            continue
        if rec["role"] not in DIVIDING_ROLES:
            found.other_roles += 1
        elif rec.get("is_4050"):
            found.excluded_4050.append(rec["name"])
        else:
            found.eligible.append(rec["name"])
    if problems:
        raise InputError(f"{path}: 人员表有误 / staff register rejected: " + "; ".join(problems))
    if not found.eligible:
        raise InputError(
            f"{path}: 没有可计入的专职网格员（“4050”人员除外）/ no grid worker to count "
            f"(4050 staff excluded): {len(found.excluded_4050)} 4050, {found.other_roles} other"
        )
    return found
