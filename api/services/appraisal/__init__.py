"""The monthly appraisal per worker (绩效) and public opinion: pure rules (no database).

:mod:`api.services.appraisal.formula` holds the weights, the Wilson interval, the satisfaction
levels
and the questionnaire templates; :mod:`api.services.appraisal.report` writes the XLSX/PDF report.
"""

from api.services.appraisal.formula import (
    COMPONENTS,
    Z95,
    appraisal_score,
    check_weights,
    favourable_levels,
    level_code,
    read_weights,
    satisfaction_levels,
    survey_questions,
    wilson_interval,
)

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
