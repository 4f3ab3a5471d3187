"""The monthly appraisal per worker (绩效) and public opinion: pure rules (no database).

:mod:`api.services.appraisal.formula` holds the weights, the Wilson interval, the satisfaction
levels
and the questionnaire templates; :mod:`api.services.appraisal.report` writes the XLSX/PDF report.
The package offers the names of :mod:`~api.services.appraisal.formula` (its ``__all__``, the one
list of them).
"""

from api.services.appraisal import formula
from api.services.appraisal.formula import *  # noqa: F403 (exactly formula.__all__)

__all__: list[str] = []
__all__ += formula.__all__
