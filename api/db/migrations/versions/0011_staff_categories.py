"""``staff.is_4050`` and the incident categories the plan names that the first table lacked.

- ``staff.is_4050``: a "4050" public-welfare post (the 40/50-age re-employment programme),
  not counted when a community is divided into one grid per grid worker;
- incident categories: the migration that created ``incident_categories`` loads the code
  table as it is when it runs, so a fresh database already has every row; a database created
  before these rows were added gets them here: each row of
  ``data/codes/incident_categories.csv`` whose code is not yet stored is inserted (with its
  ``public`` flag), and any post it names that is not yet in ``posts`` is added. Existing
  rows are never changed (an administrator may have edited them).

New rows: 0103 流动党员, 0104 党团员志愿者服务, 0403 政策外怀孕 (major: same day),
0609 刑释解教人员.

Revision ID: 0011_staff_categories
Revises: 0010_audit_chain
Create Date: 2026-12-07
"""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0011_staff_categories"
down_revision = "0010_audit_chain"
branch_labels = None
depends_on = None

NEW_CODES = ("0103", "0104", "0403", "0609")
_COLUMNS = ("code", "name_zh", "name_en", "parent", "severity", "post", "gbt_class")
_TRUE = {"1", "true", "True", "是"}


def _csv_rows() -> list[dict[str, str]]:
    from api.core.config import get_settings

    path = Path(get_settings().data_dir) / "codes" / "incident_categories.csv"
    if not path.exists():  # running from a checkout without a configured data folder
        path = Path(__file__).resolve().parents[4] / "data" / "codes" / "incident_categories.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _categories() -> sa.TableClause:
    return sa.table(
        "incident_categories",
        *(sa.column(c) for c in _COLUMNS),
        sa.column("public", sa.Boolean),
    )


def upgrade() -> None:
    op.add_column(
        "staff", sa.Column("is_4050", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    bind = op.get_bind()
    table = _categories()
    stored = set(bind.execute(sa.select(table.c.code)).scalars())
    rows = _csv_rows()
    missing = [
        {k: (r.get(k) or "").strip() or None for k in _COLUMNS}
        | {"public": (r.get("public") or "").strip() in _TRUE}
        for r in rows
        if r["code"].strip() not in stored
    ]
    if missing:
        op.bulk_insert(table, missing)
    posts = sa.table("posts", sa.column("name"), sa.column("code"), sa.column("description"))
    known = set(bind.execute(sa.select(posts.c.name)).scalars())
    names = sorted({(r.get("post") or "").strip() for r in rows} - {""} - known)
    if names:
        op.bulk_insert(posts, [{"name": n, "code": None, "description": None} for n in names])


def downgrade() -> None:
    table = _categories()
    used = sa.select(sa.literal_column("category_code")).select_from(sa.table("incidents"))
    op.execute(table.delete().where(table.c.code.in_(NEW_CODES), table.c.code.not_in(used)))
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): never rebuild a spatial table
    op.drop_column("staff", "is_4050")
