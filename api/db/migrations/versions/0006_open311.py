"""Open311 submissions: what a client sent with a report beyond the incident.

- ``open311_submissions``: one row per report made through Open311 — the client (API key
  name), the reporter's account id, e-mail, first and last name, phone, device id (kept for
  the staff, never shown in an Open311 answer; e-mail, names and phone are stored encrypted
  like residents' personal data, hence text columns) and the request's ``media_url``.

Revision ID: 0006_open311
Revises: 0005_routing
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_open311"
down_revision = "0005_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_submissions",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("api_key_name", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_open311_submissions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_open311_submissions")),
    )


def downgrade() -> None:
    op.drop_table("open311_submissions")
