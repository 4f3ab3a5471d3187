"""The monthly assessment of communities (docs/design.md §2): draw, compare, deduct, score, rank.

Pure functions over DataFrames and records; the database and CLI wiring live elsewhere.
"""

from api.services.assessment.sample import SAMPLE_SIZE, Sample, derive_seed, draw_sample
from api.services.assessment.scoring import (
    DEFAULT_RULES,
    DEPARTMENTS,
    CommunityScore,
    Deduction,
    DeptScore,
    HouseholdRecord,
    PointScore,
    ResidentRecord,
    ScoringRules,
    household_records,
    rank_communities,
    score_community,
    score_sample_point,
)

__all__ = [
    "DEFAULT_RULES",
    "DEPARTMENTS",
    "SAMPLE_SIZE",
    "CommunityScore",
    "Deduction",
    "DeptScore",
    "HouseholdRecord",
    "PointScore",
    "ResidentRecord",
    "Sample",
    "ScoringRules",
    "derive_seed",
    "draw_sample",
    "household_records",
    "rank_communities",
    "score_community",
    "score_sample_point",
]
