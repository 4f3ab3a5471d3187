"""The monthly assessment of communities (docs/design.md §2): draw, compare, deduct, score, rank.

Pure functions over DataFrames and records; the database and CLI wiring live elsewhere.
"""

from api.services.assessment.community import (
    CommunityScore,
    DeptScore,
    rank_communities,
    score_community,
)
from api.services.assessment.records import HouseholdRecord, ResidentRecord, household_records
from api.services.assessment.rules import DEFAULT_RULES, DEPARTMENTS, ScoringRules
from api.services.assessment.sample import SAMPLE_SIZE, Sample, derive_seed, draw_sample
from api.services.assessment.scoring import Deduction, PointScore, score_sample_point

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
