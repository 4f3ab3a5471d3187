"""The appraisal formula, its weights, the Wilson score interval and the opinion code tables.

Formula (README "Monthly appraisal"): each component is a number from 0 to 100 —

- ``assessment``: the community's monthly assessment total (100 points,
  :func:`api.services.assessment.service.community_result`);
- ``on_time``: 100 × the on-time share of the worker's incidents reported in the month;
- ``patrol``: 100 × the share of the worker's ended weeks of the month with ≥ 15 h patrol;
- ``satisfaction``: 100 × the favourable share (满意 + 基本满意) of the satisfaction records
  of the worker's incidents closed in the month;

and the appraisal is ``Σ wᵢ·cᵢ / Σ wᵢ`` over the components that have a value (weights in
percent from ``data/codes/appraisal_weights.csv``, default 40/20/20/20). A component without
any data (no incidents, no ended week, no rating, no complete assessment) is left out and
the remaining weights are scaled up; the result lists what was left out.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from gis.errors import InputError

__all__ = [
    "COMPONENTS",
    "Z95",
    "appraisal_score",
    "check_weights",
    "favourable_levels",
    "level_code",
    "read_weights",
    "satisfaction_levels",
    "survey_questions",
    "wilson_interval",
]

COMPONENTS = ("assessment", "on_time", "patrol", "satisfaction")
Z95 = 1.959963984540054
"""The 97.5 % quantile of the standard normal distribution (two-sided 95 %)."""


def _codes_dir(data_dir: Path | None) -> Path:
    if data_dir is None:
        from api.core.config import get_settings

        data_dir = Path(get_settings().data_dir)
    return Path(data_dir) / "codes"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"缺少代码表 {path} / code table {path} is missing")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def check_weights(weights: Mapping[str, object]) -> dict[str, float]:
    """Return ``weights`` (percent per component) as floats after checking them.

    Every component of :data:`COMPONENTS` must be given, each between 0 and 100, summing to
    100. Raises :class:`~gis.errors.InputError` naming the component at fault.

    >>> check_weights({"assessment": 40, "on_time": 20, "patrol": 20, "satisfaction": 20})
    {'assessment': 40.0, 'on_time': 20.0, 'patrol': 20.0, 'satisfaction': 20.0}
    """
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise InputError(
            f"未知的绩效组成 {unknown}（应为 {', '.join(COMPONENTS)}）/ unknown appraisal "
            f"component(s) {unknown}; expected {', '.join(COMPONENTS)}"
        )
    out: dict[str, float] = {}
    for name in COMPONENTS:
        if name not in weights:
            raise InputError(f"缺少绩效权重 {name} / the weight of {name} is missing")
        try:
            value = float(weights[name])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(
                f"绩效权重 {name} 不是数字：{weights[name]!r} / weight of {name} is not a "
                f"number: {weights[name]!r}"
            ) from None
        if not math.isfinite(value) or not 0 <= value <= 100:
            raise InputError(
                f"绩效权重 {name} 应在 0–100 之间，实为 {value:g} / weight of {name} must be "
                f"0-100 percent, got {value:g}"
            )
        out[name] = value
    total = sum(out.values())
    if abs(total - 100.0) > 1e-9:
        raise InputError(
            f"绩效权重合计应为 100%，实为 {total:g}% / appraisal weights must sum to 100 "
            f"percent, got {total:g}"
        )
    return out


def read_weights(data_dir: Path | None = None) -> dict[str, float]:
    """The weights of ``data/codes/appraisal_weights.csv`` (checked by :func:`check_weights`;
    a row with an unknown component or a repeated one is named)."""
    path = _codes_dir(data_dir) / "appraisal_weights.csv"
    weights: dict[str, object] = {}
    for i, row in enumerate(_rows(path), start=2):
        name = row.get("component", "")
        if name in weights:
            raise InputError(f"{path.name} 第 {i} 行：{name} 重复 / row {i}: {name} repeated")
        if name not in COMPONENTS:
            raise InputError(
                f"{path.name} 第 {i} 行：未知组成 {name!r} / row {i}: unknown component {name!r}"
            )
        weights[name] = row.get("weight_percent")
    return check_weights(weights)


def appraisal_score(
    components: Mapping[str, float | None], weights: Mapping[str, float]
) -> float | None:
    """``Σ wᵢ·cᵢ / Σ wᵢ`` over the components with a value (None: no component has one).

    >>> w = {"assessment": 40, "on_time": 20, "patrol": 20, "satisfaction": 20}
    >>> appraisal_score({"assessment": 90, "on_time": 100, "patrol": 50, "satisfaction": 100}, w)
    86.0
    >>> appraisal_score({"assessment": 90, "on_time": None, "patrol": None,
    ...                  "satisfaction": 100}, w)
    93.333333...
    """
    used = {k: v for k, v in components.items() if v is not None and weights.get(k, 0) > 0}
    total_weight = sum(weights[k] for k in used)
    if not used or total_weight == 0:
        return None
    return sum(weights[k] * float(v) for k, v in used.items()) / total_weight


def wilson_interval(successes: int, n: int, *, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion ``successes / n`` (None when ``n`` is 0).

    ``(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``, clipped to [0, 1]
    (E. B. Wilson, 1927).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n < 0 or successes < 0 or successes > n:
        raise InputError(f"需要 0 ≤ successes ≤ n / need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    # at p̂ = 0 (or 1) the bound is exactly 0 (or 1); floating point leaves ~1e-17
    low = 0.0 if successes == 0 else max(0.0, (centre - spread) / denominator)
    high = 1.0 if successes == n else min(1.0, (centre + spread) / denominator)
    return low, high


@lru_cache(maxsize=4)
def _levels(codes: Path) -> dict[str, tuple[str, str, bool]]:
    return {
        r["code"]: (r["name_zh"], r["name_en"], r.get("favourable") == "1")
        for r in _rows(codes / "satisfaction_level.csv")
    }


def satisfaction_levels(data_dir: Path | None = None) -> dict[str, tuple[str, str, bool]]:
    """``{code: (name_zh, name_en, favourable)}`` of ``data/codes/satisfaction_level.csv``."""
    return _levels(_codes_dir(data_dir).resolve())


def favourable_levels(data_dir: Path | None = None) -> set[str]:
    """Codes counted as satisfied (满意, 基本满意)."""
    return {code for code, (_, _, fav) in satisfaction_levels(data_dir).items() if fav}


def level_code(value: str, *, what: str = "level") -> str:
    """The level code of ``value`` (a code, its Chinese or English name); InputError otherwise.

    >>> level_code("基本满意")
    'basic'
    """
    text = str(value or "").strip()
    for code, (zh, en, _) in satisfaction_levels().items():
        if text.lower() in {code, zh, en.lower()}:
            return code
    names = "、".join(zh for zh, _, _ in satisfaction_levels().values())
    raise InputError(
        f"{what}：{text!r} 不是有效的满意度（{names}）/ {what}: {text!r} is not a satisfaction "
        f"level ({', '.join(satisfaction_levels())})"
    )


@lru_cache(maxsize=4)
def _questions(codes: Path) -> dict[str, list[dict[str, object]]]:
    templates: dict[str, list[dict[str, object]]] = {}
    for row in _rows(codes / "survey_questions.csv"):
        templates.setdefault(row["template"], []).append(
            {
                "code": row["code"],
                "order": int(row["order"]),
                "text_zh": row["text_zh"],
                "text_en": row["text_en"],
                "headline": row.get("headline") == "1",
            }
        )
    return {k: sorted(v, key=lambda q: q["order"]) for k, v in templates.items()}


def survey_questions(template: str, data_dir: Path | None = None) -> list[dict[str, object]]:
    """The questions of questionnaire ``template`` in order; InputError for an unknown one."""
    templates = _questions(_codes_dir(data_dir).resolve())
    if template not in templates:
        raise InputError(
            f"未知问卷模板 {template!r}（可用：{', '.join(templates)}）/ unknown questionnaire "
            f"template {template!r}; available: {', '.join(templates)}"
        )
    return templates[template]
