"""Incidents workflow: states, deadlines, handlers, history, photos, categories, API keys.

- ``incidents`` gains its workflow columns (state, severity, due time, handler post / staff /
  user, escalation target, version for optimistic locking, reporter, address, times);
- ``incident_events`` is the append-only history: UPDATE is always refused, DELETE is refused
  while the incident still exists (deleting an incident — e.g. the demo replacing its
  community — removes its history with it, through ``ON DELETE CASCADE``);
- ``incident_photos``: stored photo files (path, type, size, SHA-256);
- ``incident_categories``: the taxonomy of ``data/codes/incident_categories.csv``, loaded here
  so that the Open311 services exist on every database;
- ``api_keys``: Open311 API keys (SHA-256 of the key, never the key itself);
- ``staff.post``: the post (岗位, e.g. 城建管理岗) of a post-responsible person.

Revision ID: 0003_incidents
Revises: 0002_registry
Create Date: 2026-11-02
"""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0003_incidents"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

EVENTS = "incident_events"
EVENTS_FUNCTION = "wangge_incident_events_guard"
MESSAGE = "incident_events 只可追加 / incident_events is append-only"
CATEGORY_COLUMNS = ("code", "name_zh", "name_en", "parent", "severity", "post", "gbt_class")

INCIDENT_COLUMNS = (
    ("state", sa.String(length=16), False, "registered"),
    ("severity", sa.String(length=8), False, "general"),
    ("due_at", sa.DateTime(timezone=True), True, None),
    ("handler_post", sa.String(length=32), True, None),
    ("handler_staff_id", sa.Integer(), True, None),
    ("handler_user_id", sa.Integer(), True, None),
    ("escalated_to", sa.String(length=16), True, None),
    ("version", sa.Integer(), False, "1"),
    ("reporter_user_id", sa.Integer(), True, None),
    ("reporter_name", sa.Text(), True, None),
    ("address", sa.Text(), True, None),
    ("updated_at", sa.DateTime(timezone=True), True, None),
    ("resolved_at", sa.DateTime(timezone=True), True, None),
    ("closed_at", sa.DateTime(timezone=True), True, None),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _category_rows() -> list[dict[str, str | None]]:
    from api.core.config import get_settings

    path = Path(get_settings().data_dir) / "codes" / "incident_categories.csv"
    if not path.exists():  # running from a checkout without a configured data folder
        path = Path(__file__).resolve().parents[4] / "data" / "codes" / "incident_categories.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            {k: (row.get(k) or "").strip() or None for k in CATEGORY_COLUMNS}
            for row in csv.DictReader(fh)
        ]


def upgrade() -> None:
    for name, type_, nullable, default in INCIDENT_COLUMNS:
        op.add_column(
            "incidents",
            sa.Column(
                name,
                type_,
                nullable=nullable,
                server_default=None if default is None else sa.text(f"'{default}'"),
            ),
        )
    op.create_index("ix_incidents_state_due", "incidents", ["state", "due_at"], unique=False)
    op.create_index(
        op.f("ix_incidents_handler_staff_id"), "incidents", ["handler_staff_id"], unique=False
    )
    op.create_index(
        op.f("ix_incidents_reporter_user_id"), "incidents", ["reporter_user_id"], unique=False
    )
    op.add_column("staff", sa.Column("post", sa.String(length=32), nullable=True))

    op.create_table(
        EVENTS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("incident_id", "seq", name=op.f("uq_incident_events_incident_id_seq")),
    )
    op.create_index(op.f("ix_incident_events_at"), EVENTS, ["at"], unique=False)
    op.create_table(
        "incident_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_photos_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photos")),
    )
    op.create_index(
        op.f("ix_incident_photos_incident_id"), "incident_photos", ["incident_id"], unique=False
    )
    categories = op.create_table(
        "incident_categories",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("parent", sa.String(length=8), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("post", sa.String(length=32), nullable=True),
        sa.Column("gbt_class", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_categories")),
    )
    op.bulk_insert(categories, _category_rows())
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    _create_events_guard()


def _create_events_guard() -> None:
    """UPDATE always refused; DELETE refused while the incident exists (cascade allowed)."""
    if _sqlite():
        op.execute(
            f"CREATE TRIGGER tr_{EVENTS}_no_update BEFORE UPDATE ON {EVENTS} "  # nosec B608  # DDL from module constants
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER tr_{EVENTS}_no_delete BEFORE DELETE ON {EVENTS} "  # nosec B608  # DDL from module constants
            "WHEN EXISTS (SELECT 1 FROM incidents WHERE id = OLD.incident_id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        return
    op.execute(
        f"CREATE OR REPLACE FUNCTION {EVENTS_FUNCTION}() RETURNS trigger "  # nosec B608  # DDL from module constants
        "LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'DELETE' AND NOT EXISTS "
        "(SELECT 1 FROM incidents WHERE id = OLD.incident_id) THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; "
        "END $$"
    )
    op.execute(
        f"CREATE TRIGGER tr_{EVENTS}_append_only BEFORE UPDATE OR DELETE ON {EVENTS} "
        f"FOR EACH ROW EXECUTE FUNCTION {EVENTS_FUNCTION}()"
    )
    op.execute(
        f"CREATE TRIGGER tr_{EVENTS}_no_truncate BEFORE TRUNCATE ON {EVENTS} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {EVENTS_FUNCTION}()"
    )


def downgrade() -> None:
    if _sqlite():
        op.execute(f"DROP TRIGGER IF EXISTS tr_{EVENTS}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS tr_{EVENTS}_no_delete")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS tr_{EVENTS}_append_only ON {EVENTS}")
        op.execute(f"DROP TRIGGER IF EXISTS tr_{EVENTS}_no_truncate ON {EVENTS}")
        op.execute(f"DROP FUNCTION IF EXISTS {EVENTS_FUNCTION}()")
    for table in ("api_keys", "incident_categories", "incident_photos", EVENTS):
        op.drop_table(table)
    op.drop_index(op.f("ix_incidents_reporter_user_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_handler_staff_id"), table_name="incidents")
    op.drop_index("ix_incidents_state_due", table_name="incidents")
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): never rebuild a spatial table
    op.execute("ALTER TABLE staff DROP COLUMN post")
    for name, *_ in reversed(INCIDENT_COLUMNS):
        op.execute(f"ALTER TABLE incidents DROP COLUMN {name}")
