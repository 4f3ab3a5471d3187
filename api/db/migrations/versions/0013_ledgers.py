"""Ledgers and work logs: community-roster access requests, signed work-log entries, manual
patrol hours.

- ``access_requests.community_id``: a request may cover a whole community roster (besides
  one resident, one house or one grid); the ``has_scope`` check accepts it;
- ``work_log``: new kinds ``patrol`` (a patrol day from a GPS track), ``updated`` (a house or
  resident changed), ``manual_patrol`` (approved manual patrol hours); ``source`` (``auto``
  written by the worker's own action, ``manual`` typed in), ``signed_name`` (the worker's
  real name when known) and ``signed_at`` (when the entry was written);
- ``patrol_manual``: manual patrol-hour entries (start, end, grid, note) for a worker
  without a phone, counted apart from GPS hours once a community head approves them.

Revision ID: 0013_ledgers
Revises: 0012_opinion
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_ledgers"
down_revision = "0012_opinion"
branch_labels = None
depends_on = None

_OLD_KINDS = ("registered", "fed_back", "handled", "escalated", "visited", "other")
_NEW_KINDS = (*_OLD_KINDS, "patrol", "updated", "manual_patrol")
_OLD_SCOPE = "resident_id IS NOT NULL OR house_id IS NOT NULL OR grid_code IS NOT NULL"
_NEW_SCOPE = _OLD_SCOPE + " OR community_id IS NOT NULL"
_COMMUNITY_FK = "fk_access_requests_community_id_communities"


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("access_requests") as batch:
        batch.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_access_requests_has_scope"), type_="check")
        batch.create_check_constraint(op.f("ck_access_requests_has_scope"), _NEW_SCOPE)
        batch.create_foreign_key(
            op.f(_COMMUNITY_FK), "communities",
            ["community_id"], ["id"], ondelete="CASCADE",
        )  # fmt: skip
    with op.batch_alter_table("work_log") as batch:
        batch.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="auto"))
        batch.add_column(sa.Column("signed_name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f("ck_work_log_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_work_log_kind"), _kinds(_NEW_KINDS))
    op.create_table(
        "patrol_manual",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_patrol_manual_end_after_start")),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'rejected')", name=op.f("ck_patrol_manual_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_manual")),
    )
    op.create_index(
        "ix_patrol_manual_worker_date", "patrol_manual", ["worker", "date"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_patrol_manual_worker_date", table_name="patrol_manual")
    op.drop_table("patrol_manual")
    op.execute("DELETE FROM work_log WHERE kind IN ('patrol', 'updated', 'manual_patrol')")
    with op.batch_alter_table("work_log") as batch:
        batch.drop_constraint(op.f("ck_work_log_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_work_log_kind"), _kinds(_OLD_KINDS))
        batch.drop_column("signed_at")
        batch.drop_column("signed_name")
        batch.drop_column("source")
    op.execute("DELETE FROM access_requests WHERE community_id IS NOT NULL AND resident_id IS NULL"
               " AND house_id IS NULL AND grid_code IS NULL")  # fmt: skip
    with op.batch_alter_table("access_requests") as batch:
        batch.drop_constraint(op.f(_COMMUNITY_FK), type_="foreignkey")
        batch.drop_constraint(op.f("ck_access_requests_has_scope"), type_="check")
        batch.create_check_constraint(op.f("ck_access_requests_has_scope"), _OLD_SCOPE)
        batch.drop_column("community_id")
