"""Public opinion: satisfaction ratings and links, surveys and their answers."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = [
    "AnswerSurveyAnswer",
    "EnterPaperResponseAnswer",
    "RateAnswer",
    "RatingFactsAnswer",
    "RatingLinkAnswer",
    "SatisfactionAnswer",
    "SurveyAnswer",
    "SurveyFormAnswer",
    "SurveyResultsAnswer",
]


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


class RatingLinkAnswer(_Answer):
    """A one-time rating link for an incident (shown once)."""

    incident_id: int
    token: str
    path: str
    url: str | None
