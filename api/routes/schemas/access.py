"""Access requests to unmask personal data, their decisions, and the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.core.timefmt import LocalDateTime
from api.routes.schemas.common import GRID_CODE, _In, _Out

__all__ = ["AccessDecision", "AccessRequestCreate", "AccessRequestPublic", "AuditPublic"]


class AccessRequestCreate(_In):
    resident_id: int | None = None
    house_id: int | None = None
    grid_code: str | None = Field(None, pattern=GRID_CODE)
    community: str | None = Field(
        None, description="社区名册（编码或名称）/ a community roster: code or name"
    )
    reason: str = Field(min_length=2, max_length=2000, description="用途 / purpose")


class AccessDecision(_In):
    valid_hours: float = Field(24.0, gt=0, le=720, description="有效小时数 / hours valid")
    note: str | None = None


class AccessRequestPublic(_Out):
    id: int
    requester_id: int
    requester_username: str
    resident_id: int | None
    house_id: int | None
    grid_code: str | None
    community_id: int | None
    reason: str
    status: str
    requested_at: LocalDateTime
    approved_by: int | None
    approver_username: str | None
    approved_at: LocalDateTime | None
    expires_at: LocalDateTime | None
    decision_note: str | None


class AuditPublic(_Out):
    id: int
    at: LocalDateTime
    user_id: int | None
    username: str | None
    action: str
    table_name: str | None
    record_id: int | None
    detail: dict[str, Any] | None
