"""A TOTP code is good once: ``users.totp_last_step`` keeps the time step of the last code
accepted (sign-in and enrolment accept only later steps).

Revision ID: 0009_totp_once
Revises: 0008_sign_in
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_totp_once"
down_revision = "0008_sign_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("totp_last_step")
