"""The health check."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = ["HealthAnswer"]


class HealthAnswer(_Answer):
    """GET answer of ``health.health``."""

    status: str | None
    database: dict[str, Any] | None
