"""``GET /health``: the database answers, with its spatial extension's versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.db.dialect import database_versions
from api.db.migrate import current_revision
from api.routes.deps import SessionDep
from api.routes.schemas.health import HealthAnswer

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthAnswer)
def health(session: SessionDep) -> dict[str, Any]:
    """健康检查 / Database, spatial extension (SpatiaLite or PostGIS), GEOS, PROJ, migration."""
    conn = session.connection()
    return {
        "status": "ok",
        "database": {
            "dialect": conn.dialect.name,
            "versions": database_versions(conn),
            "revision": current_revision(conn),
        },
    }
