"""Registry: residents, special statuses, staff, users, access requests, audit and change logs.

``audit_log`` and ``change_log`` are append-only: triggers raise on UPDATE and DELETE (and
TRUNCATE on PostgreSQL).

Revision ID: 0002_registry
Revises: 0001_spatial_base
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.db.migrations.ddl import create_append_only, drop_append_only

revision = "0002_registry"
down_revision = "0001_spatial_base"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "change_log")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(
        "ix_audit_log_table_record", "audit_log", ["table_name", "record_id"], unique=False
    )
    op.create_table(
        "change_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "action IN ('insert', 'update', 'delete')", name=op.f("ck_change_log_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    op.create_index(op.f("ix_change_log_at"), "change_log", ["at"], unique=False)
    op.create_index(
        "ix_change_log_table_record", "change_log", ["table_name", "record_id"], unique=False
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("photo_path", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("phone_published", sa.Boolean(), nullable=False),
        sa.Column("duties", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_staff_community_id_communities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_index(op.f("ix_staff_community_id"), "staff", ["community_id"], unique=False)
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("house_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("ethnicity", sa.String(length=2), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("education", sa.String(length=2), nullable=True),
        sa.Column("relation_to_householder", sa.String(length=2), nullable=True),
        sa.Column("marital_status", sa.String(length=2), nullable=True),
        sa.Column("marital_status_date", sa.Date(), nullable=True),
        sa.Column("political_status", sa.String(length=2), nullable=True),
        sa.Column("hukou_address", sa.Text(), nullable=True),
        sa.Column("population_type", sa.String(length=2), nullable=True),
        sa.Column("inflow_date", sa.Date(), nullable=True),
        sa.Column("residence_permit_no", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["house_id"],
            ["houses.id"],
            name=op.f("fk_residents_house_id_houses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.UniqueConstraint("id_number", name=op.f("uq_residents_id_number")),
    )
    op.create_index(op.f("ix_residents_house_id"), "residents", ["house_id"], unique=False)
    op.create_index(
        op.f("ix_residents_population_type"), "residents", ["population_type"], unique=False
    )
    op.create_table(
        "staff_grids",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_staff_grids_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_grids_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "grid_code", name=op.f("pk_staff_grids")),
    )
    op.create_index(
        op.f("ix_staff_grids_community_id"), "staff_grids", ["community_id"], unique=False
    )
    op.create_index(op.f("ix_staff_grids_grid_code"), "staff_grids", ["grid_code"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('planner', 'grid_worker', 'post_staff', 'community_head', "
            "'street_dept', 'auditor', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_users_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_staff_id"), "users", ["staff_id"], unique=False)
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("house_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'rejected', 'expired')",
            name=op.f("ck_access_requests_status"),
        ),
        sa.CheckConstraint(
            "resident_id IS NOT NULL OR house_id IS NOT NULL OR grid_code IS NOT NULL",
            name=op.f("ck_access_requests_has_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_access_requests_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["house_id"],
            ["houses.id"],
            name=op.f("fk_access_requests_house_id_houses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_access_requests_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_access_requests_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_index(
        "ix_access_requests_requester_status",
        "access_requests",
        ["requester_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_access_requests_resident_id"), "access_requests", ["resident_id"], unique=False
    )
    op.create_table(
        "special_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_special_statuses_dates_in_order"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_special_statuses_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_statuses")),
    )
    op.create_index(
        op.f("ix_special_statuses_category"), "special_statuses", ["category"], unique=False
    )
    op.create_index(
        op.f("ix_special_statuses_resident_id"), "special_statuses", ["resident_id"], unique=False
    )
    op.create_table(
        "user_grids",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_grids_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "grid_code", name=op.f("pk_user_grids")),
    )
    op.create_index(op.f("ix_user_grids_grid_code"), "user_grids", ["grid_code"], unique=False)

    for table in APPEND_ONLY:
        create_append_only(table)


def downgrade() -> None:
    for i, table in enumerate(APPEND_ONLY):
        drop_append_only(table, last=i == len(APPEND_ONLY) - 1)
    for table in (
        "user_grids",
        "special_statuses",
        "access_requests",
        "users",
        "staff_grids",
        "residents",
        "staff",
        "change_log",
        "audit_log",
    ):
        op.drop_table(table)
