"""Publication policy, posts, street departments and escalation routing.

- ``incident_categories.public``: whether a category's incidents may be published, loaded
  from the ``public`` column of ``data/codes/incident_categories.csv`` (missing = not public);
- ``posts``: the posts (岗位) by name, seeded with the posts the category table names;
- ``departments``: the street's departments (code, name, street); ``staff.department_id``
  makes a staff member one of its members;
- ``escalation_rules``: category (or top-level group) → department;
- ``staff.staff_no`` (工号); ``incidents.escalated_department_id`` / ``escalated_user_id``:
  the named target of an escalation (who may sign receipt).

Revision ID: 0005_routing
Revises: 0004_assessment
Create Date: 2026-12-07
"""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005_routing"
down_revision = "0004_assessment"
branch_labels = None
depends_on = None


def _category_csv() -> Path:
    from api.core.config import get_settings

    path = Path(get_settings().data_dir) / "codes" / "incident_categories.csv"
    if not path.exists():  # running from a checkout without a configured data folder
        path = Path(__file__).resolve().parents[4] / "data" / "codes" / "incident_categories.csv"
    return path


def _csv_rows() -> list[dict[str, str]]:
    with _category_csv().open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def upgrade() -> None:
    op.add_column(
        "incident_categories",
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("staff", sa.Column("staff_no", sa.String(length=32), nullable=True))
    op.add_column("staff", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_staff_department_id"), "staff", ["department_id"], unique=False)
    op.add_column("incidents", sa.Column("escalated_department_id", sa.Integer(), nullable=True))
    op.add_column("incidents", sa.Column("escalated_user_id", sa.Integer(), nullable=True))
    posts = op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("code", name=op.f("uq_posts_code")),
        sa.UniqueConstraint("name", name=op.f("uq_posts_name")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["streets.id"],
            name=op.f("fk_departments_street_id_streets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_index(op.f("ix_departments_street_id"), "departments", ["street_id"], unique=False)
    op.create_table(
        "escalation_rules",
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_escalation_rules_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_code", name=op.f("pk_escalation_rules")),
    )
    op.create_index(
        op.f("ix_escalation_rules_department_id"),
        "escalation_rules",
        ["department_id"],
        unique=False,
    )
    rows = _csv_rows()
    table = sa.table("incident_categories", sa.column("code"), sa.column("public", sa.Boolean))
    for row in rows:
        if (row.get("public") or "").strip() in {"1", "true", "True", "是"}:
            op.execute(table.update().where(table.c.code == row["code"]).values(public=True))
    names = sorted({(r.get("post") or "").strip() for r in rows} - {""})
    op.bulk_insert(posts, [{"name": n, "code": None, "description": None} for n in names])


def downgrade() -> None:
    op.drop_table("escalation_rules")
    op.drop_table("departments")
    op.drop_table("posts")
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): never rebuild a spatial table
    op.drop_index(op.f("ix_staff_department_id"), table_name="staff")
    for table, column in (
        ("incidents", "escalated_user_id"),
        ("incidents", "escalated_department_id"),
        ("staff", "department_id"),
        ("staff", "staff_no"),
        ("incident_categories", "public"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
