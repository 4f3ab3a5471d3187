"""The planners' drawing page ``/planner/{community}`` and the JSON endpoints behind it.

The page (``maps/static/planner/``: one HTML template, one plain JS file, one CSS file, with
Leaflet and Leaflet-Geoman served from ``/static/vendor/``) is public: it holds no data and
shows a sign-in form. Every endpoint under ``/planner/{community}/...`` needs a planner (or
admin) token. ``{community}`` is the name given to ``wangge load division --community`` (or
the 12-digit community code).

The work is :mod:`api.services.planner`'s; these routes only parse and answer. Nothing
but ``save`` and ``restore`` writes: ``validate``, ``repair``, ``divide`` and the
``edit/*`` endpoints take the planner's working copy (a FeatureCollection of grids with a
``code`` property, lon/lat) and return a new one, so the page keeps its own undo history.
``save`` stores the working copy as the community's next division version through
:func:`api.services.divisions.load_division`, refused (422, with the findings) when it does
not validate; ``restore`` does the same with an older version's grids.

Roads and buildings are not stored in the database: the page shows (and snaps drawn vertices
to) the OSM layers of the data folder (``data/demo/osm_bund.gpkg``), else the base map's
top-zoom tiles when the server has one (``--basemap``), else none.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from api.core.config import default_household_band, default_target_households, default_tolerance_m
from api.db.models import Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.common import Listing
from api.routes.schemas.planner import (
    PlannerDataAnswer,
    PlannerDivideAnswer,
    PlannerEditAnswer,
    PlannerRepairAnswer,
    PlannerStoredAnswer,
    PlannerValidateAnswer,
    PlannerVersionAnswer,
)
from api.routes.tiles import page_basemap, page_response
from api.services import planner as board
from api.services.planner import CONTEXT_FILE, ROAD_END_TOLERANCE_M
from gis.defaults import MAX_TOLERANCE_M
from maps.assets import STATIC_DIR

__all__ = [
    "CONTEXT_FILE",
    "PAGE_TEMPLATE",
    "router",
]

router = APIRouter(prefix="/planner", tags=["planner"])
Planner = Annotated[User, Depends(require_role(Role.PLANNER))]

PAGE_TEMPLATE = STATIC_DIR / "planner" / "planner.html"


# --------------------------------------------------------------------------- request bodies


class _Band(BaseModel):
    # defaults from the settings WANGGE_TARGET_HOUSEHOLDS and WANGGE_TARGET_BAND
    target_households: float = Field(default_factory=default_target_households, gt=0, le=100_000)
    band: float = Field(default_factory=default_household_band, ge=0, lt=1)


class ValidateBody(_Band):
    grids: dict[str, Any]
    tolerance_m: float = Field(default_factory=default_tolerance_m, gt=0, le=MAX_TOLERANCE_M)


class RepairBody(BaseModel):
    grids: dict[str, Any]
    tolerance_m: float = Field(default_factory=default_tolerance_m, gt=0, le=MAX_TOLERANCE_M)


class DivideBody(_Band):
    pass


class SplitBody(BaseModel):
    grids: dict[str, Any]
    line: dict[str, Any]
    code: str | None = None


class MergeBody(BaseModel):
    grids: dict[str, Any]
    codes: list[str] = Field(min_length=2)


class MoveBody(BaseModel):
    grids: dict[str, Any]
    line: dict[str, Any]
    code_a: str | None = None
    code_b: str | None = None


class SplitAlongRoadBody(BaseModel):
    grids: dict[str, Any]
    code: str
    road: dict[str, Any]
    tolerance_m: float = Field(ROAD_END_TOLERANCE_M, ge=0, le=50)


class SaveBody(BaseModel):
    grids: dict[str, Any]
    effective_date: dt.date
    tolerance_m: float = Field(default_factory=default_tolerance_m, gt=0, le=MAX_TOLERANCE_M)


class RestoreBody(BaseModel):
    effective_date: dt.date


def _stored(session, stored: bool, answer: dict[str, Any]) -> JSONResponse:
    """201 with the stored version, or 422 with the findings (nothing kept)."""
    if not stored:
        session.rollback()
        return JSONResponse(answer, status_code=422)
    session.commit()
    return JSONResponse(answer, status_code=201)


# --------------------------------------------------------------------------- the page


@router.get("/{community}", response_class=HTMLResponse, include_in_schema=True)
def planner_page(community: str, request: Request) -> HTMLResponse:
    """网格规划绘制页面 / The planners' drawing page (sign-in form; data needs a planner)."""
    import json

    root = request.scope.get("root_path", "").rstrip("/")
    html = PAGE_TEMPLATE.read_text(encoding="utf-8")
    html = html.replace("{{ROOT}}", root)
    config = {
        "root": root,
        "community": community,
        "idleTimeoutSeconds": request.app.state.idle_timeout_s,
        "basemap": page_basemap(request),
    }
    # JSON inside a <script> data block: "</" must not end the element
    html = html.replace(
        "{{CONFIG_JSON}}", json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    )
    return page_response(request, html)


# --------------------------------------------------------------------------- JSON endpoints


@router.get("/{community}/data", response_model=PlannerDataAnswer)
def planner_data(
    community: str, request: Request, session: SessionDep, user: Planner, now: Now
) -> dict[str, Any]:
    """底图与当前划分 / Boundary, roads, buildings, houses and the division being edited.

    The division is the one in effect today, else the latest version (else none). Roads
    and buildings are what the page snaps drawn vertices to.
    """
    basemap = getattr(request.app.state, "basemap", None)
    return board.board_data(session, community, today=now.date(), basemap=basemap)


@router.post("/{community}/validate", response_model=PlannerValidateAnswer)
def planner_validate(
    community: str, body: ValidateBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """校验工作稿 / Findings, households per grid against the band, and compactness."""
    return board.check_working_copy(
        session,
        community,
        body.grids,
        target=body.target_households,
        band=body.band,
        tolerance_m=body.tolerance_m,
    )


@router.post("/{community}/repair", response_model=PlannerRepairAnswer)
def planner_repair(
    community: str, body: RepairBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """自动修复（不保存）/ The working copy repaired, with the change log (not saved)."""
    return board.repair_working_copy(session, community, body.grids, tolerance_m=body.tolerance_m)


@router.post("/{community}/divide", response_model=PlannerDivideAnswer)
def planner_divide(
    community: str, body: DivideBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """自动划分（不保存）/ A proposed division along roads (not saved)."""
    return board.divide_community(session, community, target=body.target_households, band=body.band)


@router.post("/{community}/edit/split", response_model=PlannerEditAnswer)
def planner_split(
    community: str, body: SplitBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """用线分割网格 / Cut one grid in two with a line (the neighbours keep shared vertices).

    Without ``code``: the grid the line cuts in exactly two, the longest crossing first.
    """
    return board.split_working_copy(session, community, body.grids, body.line, code=body.code)


@router.post("/{community}/edit/merge", response_model=PlannerEditAnswer)
def planner_merge(
    community: str, body: MergeBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """合并相邻网格 / Merge neighbouring grids (the first code is kept)."""
    return board.merge_working_copy(session, community, body.grids, body.codes)


@router.post("/{community}/edit/move-boundary", response_model=PlannerEditAnswer)
def planner_move_boundary(
    community: str, body: MoveBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """移动共享边界 / Replace the edge two neighbours share; both grids follow.

    Without ``code_a``/``code_b``, the pair is the one whose shared edge runs between the
    line's two ends (within 2 m).
    """
    return board.move_boundary(
        session, community, body.grids, body.line, code_a=body.code_a, code_b=body.code_b
    )


@router.post("/{community}/edit/split-along-road", response_model=PlannerEditAnswer)
def planner_split_along_road(
    community: str, body: SplitAlongRoadBody, session: SessionDep, user: Planner
) -> dict[str, Any]:
    """沿道路分割网格 / Cut one grid along a road's centreline (not saved).

    ``road`` is a GeoJSON LineString or MultiLineString (the ways of one road, lon/lat);
    an end within ``tolerance_m`` metres of the grid's outline is carried across it. The
    largest piece keeps ``code``; the others get new codes (``new_codes``, largest first).
    """
    return board.split_along_road(
        session, community, body.grids, body.code, body.road, tolerance_m=body.tolerance_m
    )


@router.post("/{community}/save", status_code=201, response_model=PlannerStoredAnswer)
def planner_save(
    community: str, body: SaveBody, session: SessionDep, user: Planner, now: Now
) -> JSONResponse:
    """保存为新版本 / Store the working copy as a new version in effect from a date.

    Refused (422, with the findings) when it does not validate.
    """
    stored, answer = board.save_working_copy(
        session,
        community,
        body.grids,
        effective_date=body.effective_date,
        actor=user.username,
        today=now.date(),
        tolerance_m=body.tolerance_m,
    )
    return _stored(session, stored, answer)


@router.get("/{community}/versions", response_model=Listing)
def planner_versions(
    community: str, session: SessionDep, user: Planner, now: Now
) -> dict[str, Any]:
    """划分历史版本 / Every version of the community's division, newest first."""
    return board.versions_of(session, community, today=now.date())


@router.get("/{community}/versions/{version}", response_model=PlannerVersionAnswer)
def planner_version(
    community: str, version: int, session: SessionDep, user: Planner, now: Now
) -> dict[str, Any]:
    """查看某一版本 / One version: its dates and its grids (FeatureCollection)."""
    return board.version_of(session, community, version, today=now.date())


@router.post(
    "/{community}/versions/{version}/restore", status_code=201, response_model=PlannerStoredAnswer
)
def planner_restore(
    community: str, version: int, body: RestoreBody, session: SessionDep, user: Planner, now: Now
) -> JSONResponse:
    """恢复旧版本 / Store an older version's grids as a new version from a new date."""
    stored, answer = board.restore_version(
        session,
        community,
        version,
        effective_date=body.effective_date,
        actor=user.username,
        today=now.date(),
    )
    return _stored(session, stored, answer)
