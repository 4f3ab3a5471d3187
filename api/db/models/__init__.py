"""ORM models (SQLAlchemy 2 typed mappings + GeoAlchemy2), one metadata for the whole schema.

- :mod:`~api.db.models.base` — :class:`Base`, the storage SRID, geometry and UTC time types;
- :mod:`~api.db.models.common` — places, people, accounts, access, audit and change logs;
- :mod:`~api.db.models.incidents` — incident history, photos, categories, routing, API keys;
- :mod:`~api.db.models.assessment` — patrol tracks and days, work logs, the monthly assessment;
- :mod:`~api.db.models.opinion` — satisfaction, surveys, appraisal records.

Each module imports only :mod:`~api.db.models.base` (never a sibling), so there is no cycle;
this package re-exports every model so ``from api.db.models import House`` keeps one spelling.
"""

from api.db.models import assessment, base, common, incidents, opinion
from api.db.models.assessment import *  # noqa: F403
from api.db.models.base import *  # noqa: F403
from api.db.models.common import *  # noqa: F403
from api.db.models.incidents import *  # noqa: F403
from api.db.models.opinion import *  # noqa: F403

__all__ = sorted(
    {
        *assessment.__all__,
        *base.__all__,
        *common.__all__,
        *incidents.__all__,
        *opinion.__all__,
    }
)
