"""A community's monthly score (five departments and the sample points) and the ranking
of communities (see :mod:`api.services.assessment.scoring`, *Community score*)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from api.services.assessment.rules import DEPARTMENT_POINTS, DEPARTMENTS, POINT_MAX, to_decimal
from api.services.assessment.scoring import PointScore
from gis.address import normalise
from gis.errors import InputError

__all__ = ["CommunityScore", "DeptScore", "rank_communities", "score_community"]


def _department_code(value: str) -> str:
    text = str(value).strip()
    if text in DEPARTMENTS:
        return text
    for code, name in DEPARTMENTS.items():
        if normalise(text) == normalise(name):
            return code
    raise InputError(
        f"未知部门 / unknown department {value!r}; expected one of "
        + ", ".join(f"{c} {n}" for c, n in DEPARTMENTS.items())
    )


@dataclass(frozen=True)
class DeptScore:
    """One department's score of a community for the month: 0–8 points with a reason.

    ``dept`` is a code of :data:`DEPARTMENTS` or its Chinese name (stored as the code).
    """

    dept: str
    points: float
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "dept", _department_code(self.dept))
        value = to_decimal(self.points, f"{self.dept} points")
        if not Decimal(0) <= value <= DEPARTMENT_POINTS:
            raise InputError(
                f"{DEPARTMENTS[self.dept]} 评分须在 0–8 之间 / "
                f"{self.dept} points must be within 0–8: {self.points}"
            )
        object.__setattr__(self, "points", float(value))
        if self.reason is None or not str(self.reason).strip():
            raise InputError(
                f"{DEPARTMENTS[self.dept]} 评分须写明理由 / {self.dept}: a reason is required"
            )

    @property
    def dept_zh(self) -> str:
        """The department's Chinese name."""
        return DEPARTMENTS[self.dept]


@dataclass(frozen=True)
class CommunityScore:
    """A community's monthly score: departments (≤ 40) + sample points (≤ 60) = total."""

    community: str
    month: str
    departments: tuple[DeptScore, ...]
    points: tuple[PointScore, ...]
    department_points: float
    sample_points: float
    total: float
    note: str = ""

    @property
    def charged_deductions(self) -> int:
        """How many deductions cost points."""
        return sum(1 for p in self.points for d in p.deductions if d.points > 0)


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def score_community(
    department_scores: Sequence[DeptScore],
    points: Sequence[PointScore],
    *,
    community: str,
    month: str = "",
    expected_points: int = 10,
) -> CommunityScore:
    """Add up a community's month: five department scores and its sample points.

    Raises :class:`~gis.errors.InputError` unless each of the five departments of
    :data:`DEPARTMENTS` scored exactly once, and unless there are 1..``expected_points``
    sample points with distinct households. Fewer sample points than expected are scaled to
    60 (noted in ``note``).

    >>> from dataclasses import replace
    >>> depts = [DeptScore(code, 8, "按时完成") for code in DEPARTMENTS]
    >>> clean = PointScore("H1", None, 6.0, (), True)
    >>> score_community(depts, [replace(clean, house_key=f"H{i}") for i in range(10)],
    ...                 community="九江社区").total
    100.0
    """
    community = str(community).strip()
    if not community:
        raise InputError("社区不能为空 / community must not be empty")
    seen: dict[str, DeptScore] = {}
    for score in department_scores:
        if score.dept in seen:
            raise InputError(f"{community}: 部门重复评分 / department scored twice: {score.dept}")
        seen[score.dept] = score
    missing = [f"{c} {n}" for c, n in DEPARTMENTS.items() if c not in seen]
    if missing:
        raise InputError(
            f"{community}: 缺少部门评分 / departments not scored: {', '.join(missing)}"
        )
    if not points:
        raise InputError(f"{community}: 没有样本点 / no sample points")
    if len(points) > expected_points:
        raise InputError(
            f"{community}: 样本点 {len(points)} 个，多于 {expected_points} 个 / "
            f"{len(points)} sample points, more than {expected_points}"
        )
    keys = [p.house_key for p in points]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise InputError(f"{community}: 样本点重复 / sample point twice: {dup}")

    dept_total = sum((Decimal(str(seen[c].points)) for c in DEPARTMENTS), Decimal(0))
    raw = sum((Decimal(str(p.points)) for p in points), Decimal(0))
    point_max = sum((Decimal(str(p.max_points)) for p in points), Decimal(0))
    full = POINT_MAX * expected_points
    note = ""
    sample = raw
    if point_max != full:
        sample = _q(raw * full / point_max)
        note = (
            f"样本点 {len(points)} 个（满分 {point_max}），按 {full} 分折算 / "
            f"{len(points)} sample points (max {point_max}) scaled to {full}"
        )
    return CommunityScore(
        community=community,
        month=month,
        departments=tuple(seen[c] for c in DEPARTMENTS),
        points=tuple(points),
        department_points=float(dept_total),
        sample_points=float(sample),
        total=float(_q(dept_total + sample)),
        note=note,
    )


def rank_communities(scores: Iterable[CommunityScore]) -> pd.DataFrame:
    """Rank communities by total within each month; ties share the best rank (1, 1, 3).

    Returns a DataFrame with ``month``, ``rank``, ``community``, ``department_points``,
    ``sample_points``, ``total``, ``charged_deductions`` and ``note``, sorted by month,
    rank and community.
    """
    rows = [
        {
            "month": s.month,
            "community": s.community,
            "department_points": s.department_points,
            "sample_points": s.sample_points,
            "total": s.total,
            "charged_deductions": s.charged_deductions,
            "note": s.note,
        }
        for s in scores
    ]
    columns = ["month", "rank", "community", "department_points", "sample_points", "total",
               "charged_deductions", "note"]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    dup = frame[frame.duplicated(["month", "community"])]
    if len(dup):
        raise InputError(
            f"社区重复 / community scored twice: {dup.iloc[0]['community']} {dup.iloc[0]['month']}"
        )
    exact = frame["total"].round(2)
    frame["rank"] = exact.groupby(frame["month"]).rank(method="min", ascending=False).astype(int)
    frame = frame.sort_values(["month", "rank", "community"], kind="stable")
    return frame[columns].reset_index(drop=True)
