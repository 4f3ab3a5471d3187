"""``change_counters``: a counter the database bumps in the same transaction as any write to
the tables the public grid look-up answers from (staff, staff_grids, grids, divisions,
communities), so that every server process — and every host on one PostGIS — can tell with a
one-row read whether its in-memory look-up snapshot is still current.

The bump is done by triggers, so writes by any client count (the API, the CLI, ``psql``):
statement-level ``AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE`` triggers on PostgreSQL,
row-level ``AFTER`` triggers on SQLite (which has no statement triggers).

Revision ID: 0014_change_counters
Revises: 0013_ledgers
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_change_counters"
down_revision = "0013_ledgers"
branch_labels = None
depends_on = None

LOCATE_TABLES = ("staff", "staff_grids", "grids", "divisions", "communities")
BUMP_FUNCTION = "wangge_bump_locate"
_BUMP = "UPDATE change_counters SET value = value + 1 WHERE name = 'locate'"


def upgrade() -> None:
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": "locate", "value": 0}])
    if op.get_bind().dialect.name == "sqlite":
        for table in LOCATE_TABLES:
            for verb in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER tr_{table}_locate_{verb.lower()} AFTER {verb} ON {table} "
                    f"BEGIN {_BUMP}; END"
                )
        return
    op.execute(
        f"CREATE OR REPLACE FUNCTION {BUMP_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_BUMP}; RETURN NULL; END $$"
    )
    for table in LOCATE_TABLES:
        op.execute(
            f"CREATE TRIGGER tr_{table}_locate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {BUMP_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in LOCATE_TABLES:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_locate_{verb}")
    else:
        for table in LOCATE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_locate ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {BUMP_FUNCTION}()")
    op.drop_table("change_counters")
