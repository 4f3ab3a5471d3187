"""Pydantic models of the API, separate from the tables: Base/Create/Update/Public per resource.

Non-spatial lists are ``{"data": [...], "count": n}`` (:class:`ListOf`); spatial lists are
GeoJSON FeatureCollections built by the routes. Registry values (codes, dates, phones, ID
numbers) are checked by :mod:`api.services.registry.validators` in the services, which answer a 422
naming the field; the models here only fix the shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from api.core.timefmt import LocalDateTime
from api.db.models import Role

__all__ = [
    "AccessDecision",
    "AccessRequestCreate",
    "AccessRequestPublic",
    "AuditPublic",
    "CommunityCreate",
    "CommunityPublic",
    "CommunityUpdate",
    "DivisionLoad",
    "DivisionPublic",
    "GridUpdate",
    "HouseCreate",
    "HouseUpdate",
    "ListOf",
    "LocateResult",
    "Message",
    "ResidentCreate",
    "ResidentPublic",
    "ResidentUpdate",
    "SpecialStatusCreate",
    "SpecialStatusPublic",
    "StaffContact",
    "StaffCreate",
    "StaffPublic",
    "StaffUpdate",
    "Token",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "ValidateRequest",
]

T = TypeVar("T")
DateLike = dt.date | str | None
GRID_CODE = r"^\d{15}$"


class _In(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ListOf(BaseModel, Generic[T]):
    """A page of a non-spatial list: the items and how many there are in all."""

    data: list[T]
    count: int


class Message(BaseModel):
    detail: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds / 有效秒数")


# --------------------------------------------------------------------------- users


class UserCreate(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    grid_codes: list[str] = Field(default_factory=list)
    staff_id: int | None = None


class UserUpdate(_In):
    password: str | None = Field(None, min_length=8, max_length=256)
    role: Role | None = None
    grid_codes: list[str] | None = None
    active: bool | None = None
    staff_id: int | None = None


class UserPublic(_Out):
    id: int
    username: str
    role: str
    grid_codes: list[str]
    active: bool
    staff_id: int | None


# --------------------------------------------------------------------------- communities, grids


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
    tolerance_m: float = Field(0.5, gt=0, le=100)
    code_field: str = "code"
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


# --------------------------------------------------------------------------- houses, residents


class HouseCreate(_In):
    community_id: int
    address: str | None = None
    house_key: str | None = None
    road: str | None = None
    number: str | None = None
    building: str | None = None
    owner: str | None = None
    floor_area_m2: float | str | None = None
    households: int | str | None = None
    house_type: str | None = None
    use: str | None = None
    lon: float | str | None = None
    lat: float | str | None = None
    grid_code: str | None = None
    footprint: dict[str, Any] | None = Field(None, description="GeoJSON (Multi)Polygon")


class HouseUpdate(_In):
    address: str | None = None
    house_key: str | None = None
    road: str | None = None
    number: str | None = None
    building: str | None = None
    owner: str | None = None
    floor_area_m2: float | str | None = None
    households: int | str | None = None
    house_type: str | None = None
    use: str | None = None
    lon: float | str | None = None
    lat: float | str | None = None
    grid_code: str | None = None
    footprint: dict[str, Any] | None = None


class ResidentBase(_In):
    name: str | None = None
    gender: str | None = None
    ethnicity: str | None = None
    id_number: str | None = None
    birth_date: DateLike = None
    education: str | None = None
    relation_to_householder: str | None = None
    marital_status: str | None = None
    marital_status_date: DateLike = None
    political_status: str | None = None
    hukou_address: str | None = None
    population_type: str | None = None
    inflow_date: DateLike = None
    residence_permit_no: str | None = None
    phone: str | None = None


class ResidentCreate(ResidentBase):
    house_id: int


class ResidentUpdate(ResidentBase):
    house_id: int | None = None


class ResidentPublic(BaseModel):
    id: int
    house_id: int
    grid_code: str | None
    name: str
    gender: str | None
    ethnicity: str | None
    id_number: str | None
    birth_date: dt.date | None
    education: str | None
    relation_to_householder: str | None
    marital_status: str | None
    marital_status_date: dt.date | None
    political_status: str | None
    hukou_address: str | None
    population_type: str | None
    inflow_date: dt.date | None
    residence_permit_no: str | None
    phone: str | None
    masked: bool = Field(description="True: id_number and phone are masked / 已脱敏")


class SpecialStatusCreate(_In):
    category: str
    fields: dict[str, Any] = Field(default_factory=dict)
    start_date: DateLike = None
    end_date: DateLike = None
    note: str | None = None


class SpecialStatusPublic(_Out):
    id: int
    resident_id: int
    category: str
    fields: dict[str, Any]
    start_date: dt.date | None
    end_date: dt.date | None
    note: str | None


# --------------------------------------------------------------------------- staff


class StaffCreate(_In):
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    phone_published: bool | None = None
    photo_path: str | None = None
    duties: str | None = None
    community_id: int | None = None
    grid_codes: list[str] = Field(default_factory=list)
    post: str | None = Field(None, description="岗位名称 / post by name (GET /posts)")
    staff_no: str | None = Field(None, max_length=32, description="工号 / staff number")
    department: str | None = Field(None, description="街道部门编码 / street department code")
    is_4050: bool | None = Field(None, description="“4050”公益性岗位人员 / a 4050 post")


class StaffUpdate(_In):
    """Only the fields sent change (and only they are checked)."""

    name: str | None = None
    role: str | None = None
    phone: str | None = None
    phone_published: bool | None = None
    photo_path: str | None = None
    duties: str | None = None
    community_id: int | None = None
    grid_codes: list[str] | None = None
    active: bool | None = None
    post: str | None = Field(None, description="岗位名称 / post by name; null clears it")
    staff_no: str | None = Field(None, max_length=32)
    department: str | None = Field(None, description="街道部门编码; null clears it")
    is_4050: bool | None = None


class StaffPublic(_Out):
    id: int
    name: str
    role: str
    phone: str | None
    phone_published: bool
    photo_path: str | None
    duties: str | None
    community_id: int | None
    grid_codes: list[str]
    active: bool
    post: str | None = None
    staff_no: str | None = None
    department_id: int | None = None
    is_4050: bool = False


# --------------------------------------------------------------------------- access, audit


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
