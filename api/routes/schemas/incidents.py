"""Incidents and their routing: an incident, an uploaded photo, posts, departments and
routing rules, a staff member's open items."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = [
    "CreatePostAnswer",
    "DepartmentAnswer",
    "IncidentAnswer",
    "ReadOpenIncidentsAnswer",
    "RoutingRowsAnswer",
    "UploadPhotoAnswer",
    "WriteCategoryRuleAnswer",
]


class IncidentAnswer(_Answer):
    """An incident as the API shows it: its state, deadline, handler, history and photos."""

    id: int
    community_id: int | None
    external_id: str | None
    category_code: str | None
    description: str | None
    address: Any
    lon: int | float | None
    lat: int | float | None
    grid_code: str | None
    state: str | None
    open311_status: str | None
    severity: str | None
    reported_at: Any
    due_at: Any
    overdue: bool | None
    due_soon: bool | None
    handler_post: str | None
    handler_staff_id: int | None
    handler_user_id: int | None
    escalated_to: Any
    escalated_department_id: Any
    escalated_user_id: Any
    unassigned: bool | None
    reporter_user_id: int | None
    reporter_name: str | None
    version: int | None
    updated_at: Any
    resolved_at: Any
    closed_at: Any
    allowed_actions: list[str]
    history: list[dict[str, Any]]
    photos: list[dict[str, Any]]


class ReadOpenIncidentsAnswer(_Answer):
    """GET answer of ``routing.read_open_incidents``."""

    staff_id: int | None
    active: bool | None
    data: list[dict[str, Any]]
    count: int


class UploadPhotoAnswer(_Answer):
    """POST answer of ``incidents.upload_photo``."""

    id: int
    content_type: str | None
    size_bytes: int | float | None
    sha256: str | None
    url: str | None


class DepartmentAnswer(_Answer):
    """A street department with its members."""

    id: int
    code: str | None
    name: str | None
    street_id: Any
    active: bool | None
    members: list[Any]


class CreatePostAnswer(_Answer):
    """POST answer of ``routing.create_post``."""

    id: int
    name: str | None
    code: str | None
    description: Any


class WriteCategoryRuleAnswer(_Answer):
    """PUT answer of ``routing.write_category_rule``."""

    category_code: str | None
    category_name: str | None
    post: str | None
    public: bool | None
    department_code: str | None


class RoutingRowsAnswer(_Answer):
    """Routing rules after a change: how many rows were applied, and every rule."""

    applied: int | None
    data: list[dict[str, Any]]
