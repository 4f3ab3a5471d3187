"""The offline base map: its style document, the pages' configuration and TileJSON."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = ["BaseMapConfigAnswer", "BaseStyleDocumentAnswer", "BaseTilejsonAnswer"]


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
