"""The tables every domain shares: places, people, accounts, access, audit and change logs.

Hierarchy street → community → division (versioned, effective dates) → grid; houses with their
residents and special-status records; staff, users, access requests; append-only audit and
change logs (enforced by triggers, see :mod:`api.db.migrations`). The schema is built by the
Alembic migrations (``api/db/migrations``), which must stay equal to this metadata
(``tests/api/test_migrations.py`` compares them).

Geometry is stored lon/lat in one SRID per deployment, :data:`STORAGE_SRID`
(``get_settings().storage_srid``: 4326 WGS84 or 4490 CGCS2000), each geometry column with a
spatial index (SpatiaLite R*Tree ``idx_<table>_geom`` / PostGIS GiST). Everything lives on
one :data:`Base.metadata`.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    select,
)
from sqlalchemy import false as sa_false
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import (
    Mapped,
    Session,
    mapped_column,
    relationship,
    validates,
)

from api.core.crypto import keyring
from api.db.encrypted import EncryptedText, blind_index
from api.db.models.base import (
    HASHED_RESIDENT_FIELDS,
    Base,
    UTCDateTime,
    geometry_column,
    utc_now,
)
from gis.errors import InputError

__all__ = [
    "AccessRequest",
    "AccessStatus",
    "AuditChainHead",
    "AuditLog",
    "ChangeCounter",
    "ChangeLog",
    "Community",
    "Division",
    "Grid",
    "House",
    "Incident",
    "LoginAttempt",
    "Resident",
    "RevokedToken",
    "Role",
    "SpecialStatus",
    "Staff",
    "StaffGrid",
    "Street",
    "User",
    "UserGrid",
]


class Street(Base):
    """A street (街道) or town: 9-digit code (6-digit district, GB/T 2260, + 3-digit street)."""

    __tablename__ = "streets"
    __table_args__ = (CheckConstraint("length(code) = 9", name="code_9_digits"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(Text)
    district_name: Mapped[str | None] = mapped_column(Text)

    communities: Mapped[list[Community]] = relationship(back_populates="street")

    @property
    def district_code(self) -> str:
        """The 6-digit district code (GB/T 2260)."""
        return self.code[:6]


class Community(Base):
    """A community (社区): 12-digit code (6 division + 3 street + 3 community) and boundary."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_id: Mapped[int | None] = mapped_column(
        ForeignKey("streets.id", ondelete="SET NULL"), index=True
    )
    street_name: Mapped[str | None] = mapped_column(Text)
    district_name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(geometry_column("MULTIPOLYGON"))

    street: Mapped[Street | None] = relationship(back_populates="communities")
    divisions: Mapped[list[Division]] = relationship(
        back_populates="community",
        order_by="Division.version",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    grids: Mapped[list[Grid]] = relationship(back_populates="community", viewonly=True)


class Division(Base):
    """One version of the division of a community into grids, with the dates it is in effect.

    ``effective_from`` NULL is a draft (never in effect); a division is in effect on day ``d``
    when ``effective_from <= d`` and (``effective_to`` is NULL or ``d < effective_to``).
    Replacing a division closes the old one (:func:`api.db.divisions.put_in_effect`): grids of
    earlier versions are kept, so history can be read.
    """

    __tablename__ = "divisions"
    __table_args__ = (
        UniqueConstraint("community_id", "label"),
        UniqueConstraint("community_id", "version"),
        CheckConstraint(
            "effective_to IS NULL OR "
            "(effective_from IS NOT NULL AND effective_to > effective_from)",
            name="dates_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    created_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    community: Mapped[Community] = relationship(back_populates="divisions")
    grids: Mapped[list[Grid]] = relationship(
        back_populates="division_record", cascade="all, delete-orphan", passive_deletes=True
    )

    def in_effect_on(self, day: dt.date) -> bool:
        """Return True when this division is in effect on ``day``."""
        if self.effective_from is None or day < self.effective_from:
            return False
        return self.effective_to is None or day < self.effective_to


class Grid(Base):
    """A grid (网格) of one division of a community; 15-digit code unique within the division.

    ``division`` is the label of its :class:`Division` (kept equal to it). A grid created with
    only a label gets the community's division of that label, created as a draft when missing
    (see :func:`_grids_get_their_division`); so ``Grid(community_id=..., division="current")``
    keeps working.
    """

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("division_id", "code"),
        Index("ix_grids_community_division", "community_id", "division"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="CASCADE"), index=True
    )
    division: Mapped[str] = mapped_column(String(64), default="current")
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(geometry_column("MULTIPOLYGON"))

    community: Mapped[Community] = relationship()
    division_record: Mapped[Division] = relationship(back_populates="grids")


class House(Base):
    """A house (房屋): door plate, owner, area, type, use; a point and its grid code.

    docs/design.md §2 fields: 门牌号码 ``address`` (``road`` + ``number``, ``building``), 产权人
    ``owner``, 房屋面积 ``floor_area_m2``, 房屋类型 ``house_type`` and 房屋用途 ``use`` (codes
    or names of ``data/codes/house_type.csv``/``house_use.csv``), the geocoded point ``geom``
    and an optional building ``footprint``.
    """

    __tablename__ = "houses"
    __table_args__ = (
        UniqueConstraint("community_id", "house_key", name="uq_houses_community_key"),
        Index("ix_houses_grid_code", "grid_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    house_key: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    road: Mapped[str | None] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(64))
    households: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    house_type: Mapped[str | None] = mapped_column(String(64))
    use: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(geometry_column("POINT"))
    footprint = mapped_column(geometry_column("MULTIPOLYGON"))
    grid_code: Mapped[str | None] = mapped_column(String(32))

    residents: Mapped[list[Resident]] = relationship(
        back_populates="house", cascade="all, delete-orphan", passive_deletes=True
    )


class Incident(Base):
    """An incident (事件) reported in a community: category, time (UTC), point, grid code."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("community_id", "external_id", name="uq_incidents_community_external"),
        Index("ix_incidents_grid_code", "grid_code"),
        Index("ix_incidents_category_reported", "category_code", "reported_at"),
        Index("ix_incidents_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(geometry_column("POINT"))
    grid_code: Mapped[str | None] = mapped_column(String(32))
    # workflow (migration 0003; see api/services/incidents/transitions.py and docs/workflow.md)
    state: Mapped[str] = mapped_column(
        String(16), default="registered", server_default="registered"
    )
    severity: Mapped[str] = mapped_column(String(8), default="general", server_default="general")
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handler_post: Mapped[str | None] = mapped_column(String(32))
    handler_staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    handler_user_id: Mapped[int | None] = mapped_column(Integer)
    escalated_to: Mapped[str | None] = mapped_column(String(16))
    # the escalation's named target (migration 0005): a street department or one user
    escalated_department_id: Mapped[int | None] = mapped_column(Integer)
    escalated_user_id: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    reporter_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Resident(Base):
    """A resident (人口基本信息, docs/design.md §2), linked to a house.

    Coded fields hold the codes of ``data/codes``: ``gender`` (GB/T 2261.1), ``ethnicity``
    (GB/T 3304), ``education`` (GB/T 4658), ``relation_to_householder`` (GB/T 4761),
    ``marital_status`` (GB/T 2261.2), ``political_status`` (GB/T 4762), ``population_type``.
    The fields of :data:`SENSITIVE_RESIDENT_FIELDS` are stored encrypted
    (:class:`~api.db.encrypted.EncryptedText`, AES-GCM under the data key) and read in clear;
    ``id_number_hash`` and ``phone_hash``, keyed hashes set whenever the field is, carry the
    uniqueness of ID numbers (NULL allowed, e.g. foreign persons) and exact look-ups. Masking
    and access control live in the service layer.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(String(1))
    ethnicity: Mapped[str | None] = mapped_column(String(2))
    id_number: Mapped[str | None] = mapped_column(EncryptedText("residents.id_number"))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    education: Mapped[str | None] = mapped_column(String(2))
    relation_to_householder: Mapped[str | None] = mapped_column(String(2))
    marital_status: Mapped[str | None] = mapped_column(String(2))
    marital_status_date: Mapped[dt.date | None] = mapped_column(Date)
    political_status: Mapped[str | None] = mapped_column(String(2))
    hukou_address: Mapped[str | None] = mapped_column(Text)
    population_type: Mapped[str | None] = mapped_column(String(2), index=True)
    inflow_date: Mapped[dt.date | None] = mapped_column(Date)
    residence_permit_no: Mapped[str | None] = mapped_column(
        EncryptedText("residents.residence_permit_no")
    )
    phone: Mapped[str | None] = mapped_column(EncryptedText("residents.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)

    house: Mapped[House] = relationship(back_populates="residents")
    special_statuses: Mapped[list[SpecialStatus]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates(*HASHED_RESIDENT_FIELDS)
    def _hash_beside(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_hash", blind_index(value, context=f"residents.{key}"))
        return value


@event.listens_for(Resident, "before_insert")
@event.listens_for(Resident, "before_update")
def _residents_need_the_data_key(mapper, connection, resident: Resident) -> None:
    # Refuse to store a resident at all without a data key (even one with no ID number yet):
    # a deployment must not run for a while writing personal data it cannot protect.
    keyring()


class SpecialStatus(Base):
    """A special-status record of a resident (docs/design.md §2 tags): a category code of
    ``data/codes/special_status.csv`` and that category's own fields as JSON."""

    __tablename__ = "special_statuses"
    __table_args__ = (
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="dates_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(32), index=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    resident: Mapped[Resident] = relationship(back_populates="special_statuses")


class StaffGrid(Base):
    """A grid served by a staff member: by code (stable across division versions)."""

    __tablename__ = "staff_grids"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )


class Staff(Base):
    """A member of a grid's "four-in-one" team or a post-responsible person (notice board:
    name, role, photo, phone, duties, grids served). ``role`` is a code of
    ``data/codes/staff_role.csv``; ``phone_published`` says whether the public may see it."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="SET NULL"), index=True
    )
    photo_path: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_published: Mapped[bool] = mapped_column(Boolean, default=True)
    duties: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    post: Mapped[str | None] = mapped_column(String(32))  # 岗位 by name (城建管理岗...), see posts
    staff_no: Mapped[str | None] = mapped_column(String(32))  # 工号
    # a "4050" public-welfare post (re-employment programme): not counted when grids are
    # made one per grid worker
    is_4050: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    department_id: Mapped[int | None] = mapped_column(Integer, index=True)  # street department

    grids: Mapped[list[StaffGrid]] = relationship(cascade="all, delete-orphan")
    grid_codes: AssociationProxy[list[str]] = association_proxy(
        "grids", "grid_code", creator=lambda code: StaffGrid(grid_code=code)
    )


class Role(enum.StrEnum):
    """User roles."""

    PLANNER = "planner"
    GRID_WORKER = "grid_worker"
    POST_STAFF = "post_staff"
    COMMUNITY_HEAD = "community_head"
    STREET_DEPT = "street_dept"
    AUDITOR = "auditor"
    ADMIN = "admin"


def _in(column: str, enum_cls: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(m.value) for m in enum_cls)})"


class UserGrid(Base):
    """A grid a user serves (a grid worker sees the residents of these grids)."""

    __tablename__ = "user_grids"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class User(Base):
    """A user who signs in: unique username, password hash (argon2/bcrypt), one :class:`Role`."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # sign-in hardening: a TOTP second factor (secret sealed like personal data), when the
    # password was last set (expiry), and a counter that, raised, revokes every token issued
    # before (deactivation, a new password)
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("users.totp_secret"))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # the time step of the last TOTP code accepted: a code is good once
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    staff: Mapped[Staff | None] = relationship()
    grids: Mapped[list[UserGrid]] = relationship(cascade="all, delete-orphan")
    grid_codes: AssociationProxy[list[str]] = association_proxy(
        "grids", "grid_code", creator=lambda code: UserGrid(grid_code=code)
    )


class LoginAttempt(Base):
    """One sign-in attempt (:mod:`api.routes.throttle`): when, user name (lower case), client,
    result."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)


class RevokedToken(Base):
    """A token signed out before it expired (``jti`` claim), kept until it would expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class AccessStatus(enum.StrEnum):
    """States of an access request."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AccessRequest(Base):
    """A request to read unmasked resident data, approved by a leader and time-limited.

    The scope is one resident, one house, one grid or a whole community roster
    (``community_id``, for ledger exports); at least one must be given. ``reason`` is the
    stated purpose (用途).
    """

    __tablename__ = "access_requests"
    __table_args__ = (
        CheckConstraint(_in("status", AccessStatus), name="status"),
        CheckConstraint(
            "resident_id IS NOT NULL OR house_id IS NOT NULL OR grid_code IS NOT NULL"
            " OR community_id IS NOT NULL",
            name="has_scope",
        ),
        Index("ix_access_requests_requester_status", "requester_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id", ondelete="CASCADE"))
    grid_code: Mapped[str | None] = mapped_column(String(32))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AccessStatus.REQUESTED.value)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approved_by])

    @property
    def requester_username(self) -> str:
        return self.requester.username

    @property
    def approver_username(self) -> str | None:
        return None if self.approver is None else self.approver.username


class AuditLog(Base):
    """Append-only audit log (every unmasked read, sign-in, approval...): who, when, what.

    ``user_id`` is not a foreign key: the log outlives users. UPDATE and DELETE raise.
    Each row carries ``row_hash``, chained to the row before through ``prev_hash``
    (:mod:`api.db.audit_chain`, filled in as the row is written).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_table_record", "table_name", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last row of the audit chain (one row, id 1): its id and hash; locked by writers."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class ChangeCounter(Base):
    """A counter per watched set of tables, bumped by database triggers in the same
    transaction as any write to them (row ``locate``: staff, staff_grids, grids, divisions,
    communities), so every process sees another's writes by reading one row."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ChangeLog(Base):
    """Append-only history of changes to houses, residents and special statuses: who, when,
    which field, old → new (JSON values). ``action`` is insert, update or delete; an insert
    or delete may be one row with ``field`` NULL and the whole record in ``new``/``old``."""

    __tablename__ = "change_log"
    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action"),
        Index("ix_change_log_table_record", "table_name", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[object | None] = mapped_column(JSON)
    new_value: Mapped[object | None] = mapped_column(JSON)


# --------------------------------------------------------------------------- grids → divisions


@event.listens_for(Session, "before_flush")
def _grids_get_their_division(session: Session, flush_context, instances) -> None:
    """Give every new grid its :class:`Division` and keep ``Grid.division`` equal to its label.

    A grid given ``division_record`` or ``division_id`` takes that division's label; a grid
    given only a label gets the community's division of that label, created (as a draft, the
    next version) when the community has none.
    """
    grids = [obj for obj in session.new if isinstance(obj, Grid)]
    if not grids:
        return
    made: dict[tuple[object, str], Division] = {}
    with session.no_autoflush:
        for grid in grids:
            record = grid.division_record
            if record is None and grid.division_id is not None:
                record = session.get(Division, grid.division_id)
            if record is not None:
                if grid.division is not None and grid.division != record.label:
                    raise InputError(
                        f"网格 {grid.code} 的划分标签 {grid.division!r} 与其划分 {record.label!r}"
                        f" 不一致 / grid {grid.code}: label {grid.division!r} disagrees with "
                        f"its division {record.label!r}"
                    )
                grid.division = record.label
                continue
            label = grid.division or "current"
            grid.division = label
            community_key = grid.community_id if grid.community_id is not None else grid.community
            record = made.get((community_key, label)) or _find_division(
                session, community_key, label
            )
            if record is None:
                record = _new_division(session, community_key, label, made)
            made[(community_key, label)] = record
            grid.division_record = record


def _pending_divisions(session: Session, community_key) -> list[Division]:
    return [
        d
        for d in session.new
        if isinstance(d, Division)
        and (d.community_id == community_key or d.community is community_key)
    ]


def _find_division(session: Session, community_key, label: str) -> Division | None:
    for d in _pending_divisions(session, community_key):
        if d.label == label:
            return d
    if not isinstance(community_key, int):
        return None
    return session.scalar(
        select(Division).where(Division.community_id == community_key, Division.label == label)
    )


def _new_division(session: Session, community_key, label: str, made) -> Division:
    versions = [d.version for d in _pending_divisions(session, community_key)]
    versions += [d.version for (k, _), d in made.items() if k == community_key]
    if isinstance(community_key, int):
        versions.append(
            session.scalar(
                select(func.max(Division.version)).where(Division.community_id == community_key)
            )
            or 0
        )
    record = Division(label=label, version=max(versions, default=0) + 1)
    if isinstance(community_key, int):
        record.community_id = community_key
    else:
        record.community = community_key
    session.add(record)
    return record
