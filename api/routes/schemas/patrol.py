"""Patrol: the worker's log, work-log entries, manual hours and uploaded tracks."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = ["CreateWorkLogAnswer", "ManualHoursAnswer", "ReadWorkerLogAnswer", "TrackUploadAnswer"]


class ReadWorkerLogAnswer(_Answer):
    """GET answer of ``patrol.read_worker_log``."""

    worker: dict[str, Any] | None
    start: str | None
    end: str | None
    threshold_hours: int | float | None
    days: list[Any]
    weeks: list[dict[str, Any]]
    manual_days: list[Any]
    dates: list[dict[str, Any]]


class CreateWorkLogAnswer(_Answer):
    """POST answer of ``patrol.create_work_log``."""

    id: int
    worker: str | None
    date: Any
    kind: str | None
    at: Any


class ManualHoursAnswer(_Answer):
    """A manually entered patrol period and its approval state."""

    id: int
    worker: str | None
    grid_code: str | None
    start: Any
    end: Any
    date: Any
    hours: int | float | None
    status: str | None


class TrackUploadAnswer(_Answer):
    """A GPS track stored (or seen before): hours per grid per day and per week."""

    track_id: int | None
    stored: bool | None
    worker: Any
    days: list[Any]
    weeks: list[Any]
