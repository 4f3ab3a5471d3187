"""``GET /health`` reports the database and its spatial extension, on both engines."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app


@pytest.fixture
def client(fresh_db_url):
    with TestClient(create_app(fresh_db_url)) as c:
        yield c, fresh_db_url


def test_health_reports_database_and_spatial_extension(client):
    c, url = client
    r = c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    versions = body["database"]["versions"]
    if url.startswith("sqlite"):
        assert body["database"]["dialect"] == "sqlite" and versions["SpatiaLite"][0].isdigit()
    else:
        assert body["database"]["dialect"] == "postgresql" and versions["PostGIS"][0].isdigit()
    assert versions["GEOS"] and versions["PROJ"]
    assert body["database"]["revision"]
    # every route is in the OpenAPI document, and unknown paths are JSON 404s
    paths = c.get("/openapi.json").json()["paths"]
    for path in (
        "/grids/locate",
        "/divisions/validate",
        "/ogc/collections/{collection_id}/items",
        "/residents/{resident_id}",
        "/access-requests/{request_id}/approve",
        "/health",
    ):
        assert path in paths
    assert c.get("/nowhere").json() == {"detail": "Not Found"}
