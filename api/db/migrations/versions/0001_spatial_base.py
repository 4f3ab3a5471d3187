"""Spatial base: streets, communities, divisions (versioned), grids, houses, incidents.

Revision ID: 0001_spatial_base
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.db.migrations.ddl import create_spatial_index, drop_spatial_table, geometry

revision = "0001_spatial_base"
down_revision = None
branch_labels = None
depends_on = None

SPATIAL = {
    "communities": ("geom",),
    "grids": ("geom",),
    "houses": ("geom", "footprint"),
    "incidents": ("geom",),
}


def upgrade() -> None:
    op.create_table(
        "streets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("district_name", sa.Text(), nullable=True),
        sa.CheckConstraint("length(code) = 9", name=op.f("ck_streets_code_9_digits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streets")),
        sa.UniqueConstraint("code", name=op.f("uq_streets_code")),
    )
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("street_name", sa.Text(), nullable=True),
        sa.Column("district_name", sa.Text(), nullable=True),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=True),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["streets.id"],
            name=op.f("fk_communities_street_id_streets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("code", name=op.f("uq_communities_code")),
    )
    op.create_index(op.f("ix_communities_street_id"), "communities", ["street_id"], unique=False)
    op.create_table(
        "divisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "effective_to IS NULL OR "
            "(effective_from IS NOT NULL AND effective_to > effective_from)",
            name=op.f("ck_divisions_dates_in_order"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_divisions_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divisions")),
        sa.UniqueConstraint("community_id", "label", name=op.f("uq_divisions_community_id_label")),
        sa.UniqueConstraint(
            "community_id", "version", name=op.f("uq_divisions_community_id_version")
        ),
    )
    op.create_index(op.f("ix_divisions_community_id"), "divisions", ["community_id"], unique=False)
    op.create_table(
        "houses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("house_key", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("road", sa.Text(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("floor_area_m2", sa.Float(), nullable=True),
        sa.Column("house_type", sa.String(length=64), nullable=True),
        sa.Column("use", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("geom", geometry("POINT"), nullable=True),
        sa.Column("footprint", geometry("MULTIPOLYGON"), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_houses_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_houses")),
        sa.UniqueConstraint("community_id", "house_key", name="uq_houses_community_key"),
    )
    op.create_index(op.f("ix_houses_community_id"), "houses", ["community_id"], unique=False)
    op.create_index("ix_houses_grid_code", "houses", ["grid_code"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("geom", geometry("POINT"), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_incidents_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("community_id", "external_id", name="uq_incidents_community_external"),
    )
    op.create_index(
        "ix_incidents_category_reported",
        "incidents",
        ["category_code", "reported_at"],
        unique=False,
    )
    op.create_index(op.f("ix_incidents_community_id"), "incidents", ["community_id"], unique=False)
    op.create_index("ix_incidents_grid_code", "incidents", ["grid_code"], unique=False)
    op.create_index(op.f("ix_incidents_reported_at"), "incidents", ["reported_at"], unique=False)
    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("division_id", sa.Integer(), nullable=False),
        sa.Column("division", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_grids_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_grids_division_id_divisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("division_id", "code", name=op.f("uq_grids_division_id_code")),
    )
    op.create_index(
        "ix_grids_community_division", "grids", ["community_id", "division"], unique=False
    )
    op.create_index(op.f("ix_grids_division_id"), "grids", ["division_id"], unique=False)

    for table, columns in SPATIAL.items():
        for column in columns:
            create_spatial_index(table, column)


def downgrade() -> None:
    for table in ("incidents", "houses", "grids", "divisions", "communities", "streets"):
        if table in SPATIAL:
            drop_spatial_table(table, SPATIAL[table])
        else:
            op.drop_table(table)
