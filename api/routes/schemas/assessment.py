"""The monthly assessment, the appraisal per worker and the dashboard."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = [
    "AddRecordAnswer",
    "AssessmentResultAnswer",
    "CreateDrawAnswer",
    "DashboardDataAnswer",
    "PutDepartmentScoreAnswer",
    "ReadAppraisalAnswer",
    "ScorePointAnswer",
]


class ReadAppraisalAnswer(_Answer):
    """GET answer of ``appraisal.read_appraisal``."""

    community: dict[str, Any] | None
    month: Any
    weights: dict[str, Any] | None
    assessment: dict[str, Any] | None
    workers: list[dict[str, Any]]


class DashboardDataAnswer(_Answer):
    """GET answer of ``assessment.dashboard_data``."""

    month: Any
    communities: list[dict[str, Any]]


class AssessmentResultAnswer(_Answer):
    """A community's monthly assessment: the draw, department and sample points, the total."""

    community: dict[str, Any] | None
    month: Any
    draw: dict[str, Any] | None
    departments: list[dict[str, Any]]
    points: list[dict[str, Any]]
    complete: bool | None
    missing: list[Any]
    department_points: int | float | None
    sample_points: int | float | None
    total: int | float | None
    note: str | None


class AddRecordAnswer(_Answer):
    """POST answer of ``appraisal.add_record``."""

    id: int
    staff_id: int | None
    staff_name: str | None
    kind: str | None
    kind_zh: str | None
    reason: str | None
    decided_by: str | None
    decided_on: str | None
    recorded_by: str | None
    recorded_at: Any


class CreateDrawAnswer(_Answer):
    """POST answer of ``assessment.create_draw``."""

    community: dict[str, Any] | None
    month: Any
    seed: int | float | None
    n_available: int | None
    households: list[dict[str, Any]]
    note: str | None
    drawn_at: Any
    drawn_by: str | None
    created: bool | None


class ScorePointAnswer(_Answer):
    """POST answer of ``assessment.score_point``."""

    house_key: str | None
    address: str | None
    registered: bool | None
    score: int | float | None
    deductions: list[dict[str, Any]]


class PutDepartmentScoreAnswer(_Answer):
    """PUT answer of ``assessment.put_department_score``."""

    community: str | None
    month: Any
    dept: str | None
    dept_zh: str | None
    points: int | float | None
    reason: str | None
    scored_by: str | None
