"""Divisions: public validation of a proposed division; planners store one (JSON or files).

CRS: GeoJSON bodies are WGS84 (RFC 7946) and uploaded files are read in their own declared
CRS (a projected file is validated in it, as drawn, and stored in lon/lat), unless
``grids_crs``/``boundary_crs`` says what the grids' or the boundary's lon/lat really are
(e.g. ``gcj02`` for a division traced on an Amap base map).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse

from api.core.errors import Unprocessable
from api.db.models import Division, Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.common import FeatureCollection, ListOf
from api.routes.schemas.divisions import (
    DivisionLoad,
    DivisionLoadAnswer,
    DivisionPublic,
    ValidateRequest,
)
from api.services.divisions import check_division, load_division
from api.services.geojson import frame_from_geojson
from gis.errors import InputError
from gis.io import read_layer

__all__ = ["router"]

router = APIRouter(prefix="/divisions", tags=["divisions"])
Planner = Annotated[User, Depends(require_role(Role.PLANNER))]


def _division_frames(body: ValidateRequest):
    grids = frame_from_geojson(body.grids, what="grids", input_crs=body.grids_crs)
    boundary = frame_from_geojson(body.boundary, what="boundary", input_crs=body.boundary_crs)
    return grids, boundary


@router.post("/validate", response_model=FeatureCollection)
def validate_division(body: ValidateRequest) -> dict[str, Any]:
    """校验网格划分（公开）/ Validate a division: findings as a FeatureCollection.

    The properties are those of ``wangge validate --out``; an empty collection is clean.
    """
    grids, boundary = _division_frames(body)
    findings, _, _ = check_division(
        grids, boundary, code_field=body.code_field, tolerance_m=body.tolerance_m
    )
    return findings


@router.get("", response_model=ListOf[DivisionPublic])
def read_divisions(
    session: SessionDep,
    user: Planner,
    community_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """划分版本列表 / Division versions (planner)."""
    query = sa.select(Division)
    if community_id is not None:
        query = query.where(Division.community_id == community_id)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Division.id).limit(limit).offset(offset)).all()
    return {"data": rows, "count": count}


def _stored(session, result: dict[str, Any]) -> JSONResponse:
    if not result["stored"]:
        session.rollback()
        raise Unprocessable(
            "划分未通过校验，未入库（可用 force）/ the division does not "
            f"validate and was not stored (use force): {result['kinds']}",
            extra={"findings": result["findings"]},
        )
    session.commit()
    return JSONResponse(result, status_code=201)


@router.post("", status_code=201, response_model=DivisionLoadAnswer)
def load_division_json(session: SessionDep, user: Planner, now: Now, body: DivisionLoad):
    """入库一个网格划分 / Store a division (GeoJSON), in effect from ``effective_date``."""
    grids, boundary = _division_frames(body)
    result = load_division(
        session,
        grids=grids,
        boundary=boundary,
        community=body.community,
        code_field=body.code_field,
        effective_date=body.effective_date,
        tolerance_m=body.tolerance_m,
        force=body.force,
        actor=user.username,
        today=now.date(),
    )
    return _stored(session, result)


@router.post("/files", status_code=201, response_model=DivisionLoadAnswer)
def load_division_files(
    session: SessionDep,
    user: Planner,
    now: Now,
    grids: Annotated[UploadFile, File(description="网格文件（gis.io 可读格式）/ grids file")],
    boundary: Annotated[UploadFile, File(description="社区边界文件 / boundary file")],
    community: Annotated[str, Form(min_length=1, description="社区编码或名称 / code or name")],
    code_field: Annotated[str, Form()] = "code",
    effective_date: Annotated[dt.date | None, Form()] = None,
    force: Annotated[bool, Form()] = False,
    grids_crs: Annotated[str | None, Form(description="wgs84|cgcs2000|gcj02|bd09")] = None,
    boundary_crs: Annotated[str | None, Form(description="wgs84|cgcs2000|gcj02|bd09")] = None,
    grids_layer: Annotated[str | None, Form(description="网格图层 / grids layer")] = None,
    boundary_layer: Annotated[str | None, Form(description="边界图层 / boundary layer")] = None,
    input_crs: Annotated[
        str | None, Form(description="不再使用：请用 grids_crs/boundary_crs / no longer used")
    ] = None,
):
    """上传文件入库划分 / Store a division from uploaded files (GeoJSON, GPKG, zipped SHP...)."""
    if input_crs is not None:
        raise InputError(
            "input_crs 只用于点输入；网格和边界请用 grids_crs / boundary_crs / input_crs is for "
            "point input only; give grids_crs and/or boundary_crs for the division files"
        )
    with tempfile.TemporaryDirectory() as folder:
        frames = []
        for upload, kind, crs, layer in (
            (grids, "grids", grids_crs, grids_layer),
            (boundary, "boundary", boundary_crs, boundary_layer),
        ):
            name = Path(upload.filename or kind).name or kind
            path = Path(folder) / f"{kind}_{name}"
            path.write_bytes(upload.file.read())
            frames.append(
                read_layer(
                    path,
                    layer=layer,
                    input_crs=crs,
                    geometry_type="polygon",
                    keep_projected=True,  # judged as drawn; load_division stores lon/lat
                    layer_hint=f"{kind}_layer",
                    crs_hint=f"{kind}_crs",
                )
            )
    result = load_division(
        session,
        grids=frames[0],
        boundary=frames[1],
        community=community,
        code_field=code_field,
        effective_date=effective_date,
        force=force,
        actor=user.username,
        today=now.date(),
    )
    return _stored(session, result)
