"""The planners' drawing board: its data, versions, and the divide, repair, edit,
validate and store answers."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = [
    "PlannerDataAnswer",
    "PlannerDivideAnswer",
    "PlannerEditAnswer",
    "PlannerRepairAnswer",
    "PlannerStoredAnswer",
    "PlannerValidateAnswer",
    "PlannerVersionAnswer",
]


class PlannerDataAnswer(_Answer):
    """GET answer of ``planner.planner_data``."""

    community: dict[str, Any] | None
    boundary: dict[str, Any] | None
    roads: dict[str, Any] | None
    buildings: dict[str, Any] | None
    houses: dict[str, Any] | None
    division: dict[str, Any] | None
    defaults: dict[str, Any] | None


class PlannerVersionAnswer(_Answer):
    """GET answer of ``planner.planner_version``."""

    version: int | None
    label: str | None
    effective_from: Any
    effective_to: Any
    in_effect: bool | None
    scheduled: bool | None
    created_at: Any
    created_by: str | None
    note: str | None
    grids: dict[str, Any] | None


class PlannerDivideAnswer(_Answer):
    """POST answer of ``planner.planner_divide``."""

    grids: dict[str, Any] | None
    report: list[dict[str, Any]]


class PlannerRepairAnswer(_Answer):
    """POST answer of ``planner.planner_repair``."""

    grids: dict[str, Any] | None
    changes: dict[str, Any] | None


class PlannerStoredAnswer(_Answer):
    """The planner's working copy stored (or an earlier version restored) as the division."""

    valid: bool | None
    kinds: dict[str, Any] | None
    division: dict[str, Any] | None
    replaced: dict[str, Any] | None
    grids: int | None
    houses: Any


class PlannerEditAnswer(_Answer):
    """The planner's working copy after one edit (split, merge, moved boundary)."""

    grids: dict[str, Any] | None


class PlannerValidateAnswer(_Answer):
    """POST answer of ``planner.planner_validate``."""

    valid: bool | None
    kinds: dict[str, Any] | None
    findings: dict[str, Any] | None
    balance: list[dict[str, Any]]
    totals: dict[str, Any] | None
    balance_error: Any
    target_households: int | float | None
    band: int | float | None
    households_range: list[Any]
