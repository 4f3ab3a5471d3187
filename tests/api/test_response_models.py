"""Every endpoint declares what it answers: a pydantic response model for JSON, or a
non-JSON response class (HTML pages, files, PDFs, tiles, redirects, empty 204s)."""

from __future__ import annotations

import typing

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.app import create_app


def _is_model(annotation: object) -> bool:
    """A pydantic model, or a list of one."""
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel)
    if typing.get_origin(annotation) is list:
        return all(_is_model(arg) for arg in typing.get_args(annotation))
    return False


def _non_json_class(route: APIRoute) -> bool:
    response_class = route.response_class
    return isinstance(response_class, type) and not issubclass(response_class, JSONResponse)


def _routes(app) -> list[APIRoute]:
    return [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def test_every_endpoint_declares_a_response_model_or_a_non_json_class(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'models.db'}")
    routes = _routes(app)
    assert len(routes) > 100
    undeclared = sorted(
        f"{','.join(sorted(r.methods))} {r.path} ({r.endpoint.__module__}.{r.endpoint.__name__})"
        for r in routes
        if not (_is_model(r.response_model) or _non_json_class(r))
    )
    assert undeclared == []


def test_a_model_is_not_mistaken_for_a_dict():
    assert _is_model(BaseModel) and _is_model(list[BaseModel])
    assert not _is_model(dict[str, typing.Any]) and not _is_model(typing.Any)
    assert not _is_model(None)
