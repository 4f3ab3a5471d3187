"""Patrol logs and the monthly assessment.

- ``patrol_tracks``: uploaded GPS tracks (worker, file name, SHA-256, fixes, uploader);
- ``patrol_days``: seconds inside each grid per day (Asia/Shanghai) credited by a track;
- ``work_log``: what a worker registered or fed back, on the same local day;
- ``assessment_samples``: the recorded draw of sample points (seed, house keys);
- ``assessment_dept_scores``: the five department scores with reasons;
- ``assessment_points``: each sample point's field data, score and deductions.

Revision ID: 0004_assessment
Revises: 0003_incidents
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_assessment"
down_revision = "0003_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_table", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('registered', 'fed_back', 'handled', 'escalated', 'visited', 'other')",
            name=op.f("ck_work_log_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_log")),
    )
    op.create_index("ix_work_log_worker_date", "work_log", ["worker", "date"], unique=False)

    op.create_table(
        "assessment_dept_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("dept", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scored_by", sa.String(length=64), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_assessment_dept_scores_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_dept_scores")),
        sa.UniqueConstraint(
            "community_id",
            "month",
            "dept",
            name=op.f("uq_assessment_dept_scores_community_id_month_dept"),
        ),
    )
    op.create_index(
        op.f("ix_assessment_dept_scores_community_id"),
        "assessment_dept_scores",
        ["community_id"],
        unique=False,
    )

    op.create_table(
        "assessment_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("house_key", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("field_data", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("deductions", sa.JSON(), nullable=False),
        sa.Column("scored_by", sa.String(length=64), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_assessment_points_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_points")),
        sa.UniqueConstraint(
            "community_id",
            "month",
            "house_key",
            name=op.f("uq_assessment_points_community_id_month_house_key"),
        ),
    )
    op.create_index(
        op.f("ix_assessment_points_community_id"),
        "assessment_points",
        ["community_id"],
        unique=False,
    )

    op.create_table(
        "assessment_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("house_keys", sa.JSON(), nullable=False),
        sa.Column("n_available", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_assessment_samples_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_samples")),
        sa.UniqueConstraint(
            "community_id", "month", name=op.f("uq_assessment_samples_community_id_month")
        ),
    )
    op.create_index(
        op.f("ix_assessment_samples_community_id"),
        "assessment_samples",
        ["community_id"],
        unique=False,
    )

    op.create_table(
        "patrol_tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fixes", sa.Integer(), nullable=False),
        sa.Column("first_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_patrol_tracks_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patrol_tracks_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_tracks")),
        sa.UniqueConstraint("worker", "sha256", name="uq_patrol_tracks_worker_sha"),
    )
    op.create_index(op.f("ix_patrol_tracks_staff_id"), "patrol_tracks", ["staff_id"], unique=False)
    op.create_index(op.f("ix_patrol_tracks_user_id"), "patrol_tracks", ["user_id"], unique=False)
    op.create_index(op.f("ix_patrol_tracks_worker"), "patrol_tracks", ["worker"], unique=False)

    op.create_table(
        "patrol_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.CheckConstraint("seconds >= 0", name=op.f("ck_patrol_days_seconds_not_negative")),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["patrol_tracks.id"],
            name=op.f("fk_patrol_days_track_id_patrol_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_days")),
        sa.UniqueConstraint(
            "track_id", "date", "grid_code", name=op.f("uq_patrol_days_track_id_date_grid_code")
        ),
    )
    op.create_index(op.f("ix_patrol_days_grid_code"), "patrol_days", ["grid_code"], unique=False)
    op.create_index(op.f("ix_patrol_days_track_id"), "patrol_days", ["track_id"], unique=False)
    op.create_index("ix_patrol_days_worker_date", "patrol_days", ["worker", "date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patrol_days_worker_date", table_name="patrol_days")
    op.drop_index(op.f("ix_patrol_days_track_id"), table_name="patrol_days")
    op.drop_index(op.f("ix_patrol_days_grid_code"), table_name="patrol_days")

    op.drop_table("patrol_days")
    op.drop_index(op.f("ix_patrol_tracks_worker"), table_name="patrol_tracks")
    op.drop_index(op.f("ix_patrol_tracks_user_id"), table_name="patrol_tracks")
    op.drop_index(op.f("ix_patrol_tracks_staff_id"), table_name="patrol_tracks")

    op.drop_table("patrol_tracks")
    op.drop_index(op.f("ix_assessment_samples_community_id"), table_name="assessment_samples")

    op.drop_table("assessment_samples")
    op.drop_index(op.f("ix_assessment_points_community_id"), table_name="assessment_points")

    op.drop_table("assessment_points")
    op.drop_index(
        op.f("ix_assessment_dept_scores_community_id"), table_name="assessment_dept_scores"
    )

    op.drop_table("assessment_dept_scores")
    op.drop_index("ix_work_log_worker_date", table_name="work_log")

    op.drop_table("work_log")
