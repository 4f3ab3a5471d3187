"""Communities, grids and divisions: the records, the grid look-up and the validation
and loading of a division."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.core.config import default_tolerance_m
from api.routes.schemas.common import _Answer, _In, _Out
from gis.defaults import DEFAULT_CODE_FIELD, MAX_TOLERANCE_M

__all__ = [
    "CommunityBase",
    "CommunityCreate",
    "CommunityPublic",
    "CommunityUpdate",
    "DivisionLoad",
    "DivisionLoadAnswer",
    "DivisionPublic",
    "GridUpdate",
    "LocateResult",
    "StaffContact",
    "ValidateRequest",
]


class CommunityBase(_In):
    name: str = Field(min_length=1, max_length=200)
    street_name: str | None = None
    district_name: str | None = None


class CommunityCreate(CommunityBase):
    code: str = Field(pattern=r"^\d{12}$", description="12 位社区编码 / 12-digit code")
    boundary: dict[str, Any] | None = Field(None, description="GeoJSON (Multi)Polygon, WGS84")


class CommunityUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    street_name: str | None = None
    district_name: str | None = None
    boundary: dict[str, Any] | None = None


class CommunityPublic(_Out):
    id: int
    code: str
    name: str
    street_name: str | None
    district_name: str | None


class GridUpdate(_In):
    name: str | None = None
    households: int | None = Field(None, ge=0)


class DivisionPublic(_Out):
    id: int
    community_id: int
    label: str
    version: int
    effective_from: dt.date | None
    effective_to: dt.date | None
    created_by: str | None
    note: str | None


class StaffContact(BaseModel):
    name: str
    role: str
    phone: str | None = Field(description="只有公开的电话 / only a published phone")
    photo_url: str | None = Field(
        None, description="照片地址（GET /staff/{id}/photo）/ photo URL, when there is one"
    )


class LocateResult(BaseModel):
    grid_code: str | None
    grid_name: str | None
    community: str | None
    outside: bool
    staff: list[StaffContact]


class ValidateRequest(_In):
    grids: dict[str, Any] = Field(description="GeoJSON FeatureCollection of the grids")
    boundary: dict[str, Any] = Field(description="GeoJSON Feature (or geometry) of the boundary")
    tolerance_m: float = Field(
        default_factory=default_tolerance_m,
        gt=0,
        le=MAX_TOLERANCE_M,
        description="容差（米，默认 WANGGE_TOLERANCE_M）/ tolerance in metres (default: the "
        "WANGGE_TOLERANCE_M setting)",
    )
    code_field: str = DEFAULT_CODE_FIELD
    grids_crs: str | None = Field(
        None, description="网格坐标系 / CRS of grids: wgs84|cgcs2000|gcj02|bd09 (default WGS84)"
    )
    boundary_crs: str | None = Field(
        None, description="边界坐标系 / CRS of boundary: wgs84|cgcs2000|gcj02|bd09 (default WGS84)"
    )


class DivisionLoad(ValidateRequest):
    community: str = Field(
        min_length=1, description="社区编码或名称 / community code or name (new: its name)"
    )
    effective_date: dt.date | None = Field(None, description="default today")
    force: bool = False


class DivisionLoadAnswer(_Answer):
    """A division validated and stored (or refused): findings, what was stored, what it replaced."""

    valid: bool | None
    kinds: dict[str, Any] | None
    findings: dict[str, Any] | None
    stored: bool | None
    community: dict[str, Any] | None
    division: dict[str, Any] | None
    replaced: dict[str, Any] | None
    grids: int | None
    houses: dict[str, Any] | None
