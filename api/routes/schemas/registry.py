"""The registry: houses, residents, special-status records, staff, register imports and
the code tables of the forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.routes.schemas.common import DateLike, _Answer, _In, _Out

__all__ = [
    "FormCodesAnswer",
    "HouseCreate",
    "HouseUpdate",
    "ImportRegisterAnswer",
    "ResidentBase",
    "ResidentCreate",
    "ResidentPublic",
    "ResidentUpdate",
    "SpecialStatusCreate",
    "SpecialStatusPublic",
    "StaffCreate",
    "StaffPublic",
    "StaffUpdate",
]


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


class FormCodesAnswer(_Answer):
    """GET answer of ``pages.form_codes``."""

    tables: dict[str, Any] | None
    special_status_fields: dict[str, Any] | None
    incident_categories: list[dict[str, Any]]


class ImportRegisterAnswer(_Answer):
    """POST answer of ``imports.import_register``."""

    kind: str | None
    community: str | None
    rows: int | float | None
    imported: int | float | None
    written: bool | None
    rejected_rows: list[Any]
    outside: int | float | None
    ignored_columns: list[Any]
    errors: list[dict[str, Any]]
