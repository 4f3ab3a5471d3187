"""Storage: SpatiaLite by default, PostGIS by URL; one schema on one ``Base.metadata``."""

from api.db.engine import init_db, is_sqlite, make_engine, normalise_url, session_factory
from api.db.models import (
    STORAGE_SRID,
    AccessRequest,
    AuditLog,
    Base,
    ChangeLog,
    Community,
    Division,
    Grid,
    House,
    Incident,
    Resident,
    Role,
    SpecialStatus,
    Staff,
    Street,
    User,
    from_db_geometry,
    to_db_geometry,
)
from api.db.spatialite import SpatiaLiteUnavailableError, check_spatialite, load_spatialite

__all__ = [
    "STORAGE_SRID",
    "AccessRequest",
    "AuditLog",
    "Base",
    "ChangeLog",
    "Community",
    "Division",
    "Grid",
    "House",
    "Incident",
    "Resident",
    "Role",
    "SpatiaLiteUnavailableError",
    "SpecialStatus",
    "Staff",
    "Street",
    "User",
    "check_spatialite",
    "from_db_geometry",
    "init_db",
    "is_sqlite",
    "load_spatialite",
    "make_engine",
    "normalise_url",
    "session_factory",
    "to_db_geometry",
]

from api.db.models.assessment import (
    AssessmentDeptScore,
    AssessmentPoint,
    AssessmentSample,
    PatrolDay,
    PatrolTrack,
    WorkLog,
)
from api.db.models.incidents import (
    ApiKey,
    IncidentCategory,
    IncidentEvent,
    IncidentPhoto,
    Open311Submission,
)

__all__ += [
    "ApiKey",
    "AssessmentDeptScore",
    "AssessmentPoint",
    "AssessmentSample",
    "IncidentCategory",
    "IncidentEvent",
    "IncidentPhoto",
    "Open311Submission",
    "PatrolDay",
    "PatrolTrack",
    "WorkLog",
]

# The flush hooks of the storage (change log, audit hash chain, lock order): registered wherever the
# models are used, since importing any ``api.db`` module runs this package first.
from api.db import audit_chain as _audit_chain  # noqa: E402, F401
from api.db import history as _history  # noqa: E402, F401
from api.db import lock_order as _lock_order  # noqa: E402, F401
