"""A tamper-evident audit log: ``audit_log.prev_hash``/``row_hash`` chain every row to the one
before (:mod:`api.db.audit_chain`), and ``audit_chain_head`` holds the last row's id and hash.

Existing rows are chained in id order; the append-only triggers are lifted for that and put
back.

Revision ID: 0010_audit_chain
Revises: 0009_totp_once
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.db.migrations.ddl import create_append_only, drop_append_only

revision = "0010_audit_chain"
down_revision = "0009_totp_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    last_id, last_hash = _chain_existing_rows()
    op.bulk_insert(head, [{"id": 1, "last_id": last_id, "last_hash": last_hash}])


def _chain_existing_rows() -> tuple[int | None, str]:
    from api.db.audit_chain import GENESIS, chain_hash
    from api.db.models import UTCDateTime

    conn = op.get_bind()
    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("at", UTCDateTime()),
        sa.column("user_id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("action", sa.String()),
        sa.column("table_name", sa.String()),
        sa.column("record_id", sa.Integer()),
        sa.column("detail", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    rows = conn.execute(sa.select(log).order_by(log.c.id)).mappings().all()
    prev, last_id = GENESIS, None
    if rows:
        drop_append_only("audit_log")
        for row in rows:
            digest = chain_hash(prev, row)
            conn.execute(
                sa.update(log).where(log.c.id == row["id"]).values(prev_hash=prev, row_hash=digest)
            )
            prev, last_id = digest, row["id"]
        create_append_only("audit_log")
    return last_id, prev


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    drop_append_only("audit_log")
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
    create_append_only("audit_log")
