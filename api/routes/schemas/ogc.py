"""OGC API – Features documents: landing page, conformance, collections, the OpenAPI
document."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = [
    "CollectionAnswer",
    "CollectionsAnswer",
    "ConformanceAnswer",
    "LandingPageAnswer",
    "OpenApiDocument",
]


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


class OpenApiDocument(_Answer):
    """An OpenAPI 3 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
