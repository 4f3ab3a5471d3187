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

from api.core.config import default_tolerance_m
from api.core.timefmt import LocalDateTime
from api.db.models import Role
from gis.defaults import DEFAULT_CODE_FIELD, MAX_TOLERANCE_M

__all__ = [
    "AccessDecision",
    "AccessRequestCreate",
    "AccessRequestPublic",
    "AddRecordAnswer",
    "AnswerSurveyAnswer",
    "AssessmentResultAnswer",
    "AuditPublic",
    "BaseMapConfigAnswer",
    "BaseStyleDocumentAnswer",
    "BaseTilejsonAnswer",
    "CollectionAnswer",
    "CollectionsAnswer",
    "CommunityCreate",
    "CommunityPublic",
    "CommunityUpdate",
    "ConformanceAnswer",
    "CreateDrawAnswer",
    "CreatePostAnswer",
    "CreateWorkLogAnswer",
    "DashboardDataAnswer",
    "DepartmentAnswer",
    "DivisionLoad",
    "DivisionLoadAnswer",
    "DivisionPublic",
    "EnrolTotpAnswer",
    "EnterPaperResponseAnswer",
    "Feature",
    "FeatureCollection",
    "FeaturePage",
    "FormCodesAnswer",
    "GeocodeBatchAnswer",
    "GeocodeOneAnswer",
    "GridUpdate",
    "HealthAnswer",
    "HouseCreate",
    "HouseUpdate",
    "ImportRegisterAnswer",
    "IncidentAnswer",
    "LandingPageAnswer",
    "Link",
    "ListOf",
    "Listing",
    "LocateResult",
    "ManualHoursAnswer",
    "Message",
    "OpenApiDocument",
    "PlannerDataAnswer",
    "PlannerDivideAnswer",
    "PlannerEditAnswer",
    "PlannerRepairAnswer",
    "PlannerStoredAnswer",
    "PlannerValidateAnswer",
    "PlannerVersionAnswer",
    "PutDepartmentScoreAnswer",
    "RateAnswer",
    "RatingFactsAnswer",
    "RatingLinkAnswer",
    "ReadAppraisalAnswer",
    "ReadOpenIncidentsAnswer",
    "ReadWorkerLogAnswer",
    "ResidentCreate",
    "ResidentPublic",
    "ResidentUpdate",
    "ReverseAnswer",
    "RoutingRowsAnswer",
    "SatisfactionAnswer",
    "ScorePointAnswer",
    "SpecialStatusCreate",
    "SpecialStatusPublic",
    "StaffContact",
    "StaffCreate",
    "StaffPublic",
    "StaffUpdate",
    "SurveyAnswer",
    "SurveyFormAnswer",
    "SurveyResultsAnswer",
    "Token",
    "TrackUploadAnswer",
    "UploadPhotoAnswer",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "ValidateRequest",
    "WriteCategoryRuleAnswer",
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


# --------------------------------------------------------------------------- answers
#
# The response models of the endpoints that answer plain JSON built by the services. Each
# names the keys its answer always has, with their types; keys it does not name (present
# only sometimes, or nested deeper) pass through unchanged, so that declaring a model never
# changes what a client receives.


class _Answer(BaseModel):
    """Base of the answers: the named keys are checked, any other key passes through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Link(_Answer):
    """A link of an OGC API page (``self``, ``next``, ``prev``, ``collection``)."""

    href: str
    rel: str


class Feature(_Answer):
    """A GeoJSON Feature (RFC 7946) in lon/lat; ``id`` when the thing has one."""

    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class FeatureCollection(_Answer):
    """A GeoJSON FeatureCollection in lon/lat."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


class FeaturePage(FeatureCollection):
    """A page of a spatial list, OGC API – Features style: counts, time stamp and links."""

    numberMatched: int
    numberReturned: int
    timeStamp: str
    links: list[Link]


class Listing(_Answer):
    """A non-spatial list: ``{"data": [...], "count": n}`` (the rows as the service gives
    them)."""

    data: list[Any]
    count: int


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


class GeocodeOneAnswer(_Answer):
    """GET answer of ``geocode.geocode_one``."""

    lon: int | float | None
    lat: int | float | None
    match_level: str | None
    score: int | float | None
    interpolated: bool | None
    matched_address: str | None
    road: str | None
    candidates: list[Any]
    reason: str | None
    unresolved: Any
    grid_code: str | None
    grid_candidates: list[str]
    confident: bool | None


class ReverseAnswer(_Answer):
    """GET answer of ``geocode.reverse``."""

    lon: int | float | None
    lat: int | float | None
    grid_code: str | None
    door_plates: list[dict[str, Any]]


class HealthAnswer(_Answer):
    """GET answer of ``health.health``."""

    status: str | None
    database: dict[str, Any] | None


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


class CollectionAnswer(_Answer):
    """GET answer of ``ogc.collection``."""

    id: str
    title: str | None
    description: str | None
    itemType: str | None
    crs: list[str]
    storageCrs: str | None
    extent: dict[str, Any] | None
    links: list[dict[str, Any]]


class CollectionsAnswer(_Answer):
    """GET answer of ``ogc.collections``."""

    links: list[dict[str, Any]]
    collections: list[dict[str, Any]]


class ConformanceAnswer(_Answer):
    """GET answer of ``ogc.conformance``."""

    conformsTo: list[str]


class LandingPageAnswer(_Answer):
    """GET answer of ``ogc.landing_page``."""

    title: str | None
    description: str | None
    links: list[dict[str, Any]]


class RatingFactsAnswer(_Answer):
    """GET answer of ``opinion.rating_facts``."""

    incident_id: int | None
    category_code: str | None
    category_zh: str | None
    state: str | None
    state_zh: str | None
    reported_at: Any
    resolved_at: Any
    closed_at: Any
    description: str | None
    rated: bool | None
    levels: list[dict[str, Any]]


class SatisfactionAnswer(_Answer):
    """A resident's satisfaction with an incident's handling: level, source, who recorded it."""

    incident_id: int | None
    level: str | None
    level_zh: str | None
    note: str | None
    source: str | None
    called_by: Any
    called_at: Any
    recorded_by: Any
    recorded_at: Any


class SurveyAnswer(_Answer):
    """A satisfaction survey (its community, grid, dates and state)."""

    id: int
    community: dict[str, Any] | None
    grid_code: Any
    template: str | None
    title: str | None
    opens_on: str | None
    closes_on: str | None
    active: bool | None
    created_by: str | None
    created_at: Any


class SurveyFormAnswer(SurveyAnswer):
    """A survey as its phone form shows it: open or not, its grids, questions and levels."""

    open: bool | None
    grids: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    levels: list[dict[str, Any]]


class SurveyResultsAnswer(SurveyAnswer):
    """A survey's results: per question, in total, per grid and per worker."""

    headline: str | None
    questions: list[dict[str, Any]]
    total: dict[str, Any] | None
    grids: list[dict[str, Any]]
    workers: list[dict[str, Any]]


class FormCodesAnswer(_Answer):
    """GET answer of ``pages.form_codes``."""

    tables: dict[str, Any] | None
    special_status_fields: dict[str, Any] | None
    incident_categories: list[dict[str, Any]]


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


class ReadOpenIncidentsAnswer(_Answer):
    """GET answer of ``routing.read_open_incidents``."""

    staff_id: int | None
    active: bool | None
    data: list[dict[str, Any]]
    count: int


class BaseStyleDocumentAnswer(_Answer):
    """GET answer of ``tiles.base_style_document``."""

    version: int | None
    name: str | None
    metadata: dict[str, Any] | None
    center: list[Any]
    zoom: int | float | None
    sources: dict[str, Any] | None
    layers: list[dict[str, Any]]


class BaseMapConfigAnswer(_Answer):
    """GET answer of ``tiles.base_map_config``: what pages draw as base maps
    (:func:`maps.basemap_config.page_config`)."""

    offline: dict[str, Any] | None
    online: list[dict[str, Any]]
    default: str
    colours: dict[str, str]
    road_classes: dict[str, list[str]]
    labels: list[dict[str, Any]]


class BaseTilejsonAnswer(_Answer):
    """GET answer of ``tiles.base_tilejson``."""

    tilejson: str | None
    name: str | None
    attribution: str | None
    scheme: str | None
    tiles: list[str]
    minzoom: int | float | None
    maxzoom: int | float | None
    bounds: list[Any]
    center: list[Any]
    vector_layers: list[dict[str, Any]]


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


class EnrolTotpAnswer(_Answer):
    """POST answer of ``auth.enrol_totp``."""

    secret: str | None
    uri: str | None


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


class GeocodeBatchAnswer(_Answer):
    """POST answer of ``geocode.geocode_batch``."""

    data: list[dict[str, Any]]
    count: int
    by_level: dict[str, Any] | None


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


class UploadPhotoAnswer(_Answer):
    """POST answer of ``incidents.upload_photo``."""

    id: int
    content_type: str | None
    size_bytes: int | float | None
    sha256: str | None
    url: str | None


class AnswerSurveyAnswer(_Answer):
    """POST answer of ``opinion.answer_survey``."""

    id: int
    grid_code: str | None
    message: str | None


class EnterPaperResponseAnswer(_Answer):
    """POST answer of ``opinion.enter_paper_response``."""

    id: int
    grid_code: str | None
    entered_by: str | None


class RateAnswer(_Answer):
    """POST answer of ``opinion.rate``."""

    incident_id: int | None
    level: str | None
    level_zh: str | None
    message: str | None


class CreateWorkLogAnswer(_Answer):
    """POST answer of ``patrol.create_work_log``."""

    id: int
    worker: str | None
    date: Any
    kind: str | None
    at: Any


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


class PutDepartmentScoreAnswer(_Answer):
    """PUT answer of ``assessment.put_department_score``."""

    community: str | None
    month: Any
    dept: str | None
    dept_zh: str | None
    points: int | float | None
    reason: str | None
    scored_by: str | None


class WriteCategoryRuleAnswer(_Answer):
    """PUT answer of ``routing.write_category_rule``."""

    category_code: str | None
    category_name: str | None
    post: str | None
    public: bool | None
    department_code: str | None


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


class RatingLinkAnswer(_Answer):
    """A one-time rating link for an incident (shown once)."""

    incident_id: int
    token: str
    path: str
    url: str | None


class RoutingRowsAnswer(_Answer):
    """Routing rules after a change: how many rows were applied, and every rule."""

    applied: int | None
    data: list[dict[str, Any]]


class OpenApiDocument(_Answer):
    """An OpenAPI 3 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
