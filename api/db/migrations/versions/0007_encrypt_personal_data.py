"""Residents' ID numbers, phones and residence-permit numbers encrypted at rest.

- ``residents.id_number``, ``phone``, ``residence_permit_no`` become ``TEXT`` holding
  ``wg1:<key id>:...`` AES-GCM ciphertext (:mod:`api.core.crypto`);
- ``residents.id_number_hash`` (unique) and ``phone_hash`` (indexed): keyed hashes for
  uniqueness and exact look-up; the unique constraint moves from the ID number to its hash;
- existing rows, and the values of those fields in the change log, are encrypted in place
  with the configured data key (a database holding residents cannot be upgraded without it).

The downgrade decrypts them again (it needs the key too).

Revision ID: 0007_encrypt_personal_data
Revises: 0006_open311
Create Date: 2026-12-07
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0007_encrypt_personal_data"
down_revision = "0006_open311"
branch_labels = None
depends_on = None

OLD_TYPES = {
    "id_number": sa.String(18),
    "phone": sa.String(32),
    "residence_permit_no": sa.String(40),
}

# Tables whose rows point at residents with ON DELETE CASCADE.
CHILDREN = ("special_statuses", "access_requests")


@contextlib.contextmanager
def _children_kept() -> Iterator[None]:
    """Keep the residents' child rows across SQLite's table copy.

    SQLite changes a column by copying the table and dropping the old one; with foreign keys
    on (they cannot be switched off inside the migration's transaction) that drop cascades
    into the child tables. Their rows are set aside first and put back afterwards.
    """
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    for child in CHILDREN:
        op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # nosec B608  # CHILDREN is a constant
    yield
    for child in CHILDREN:
        op.execute(f"DELETE FROM {child}")  # nosec B608  # CHILDREN is a constant
        op.execute(f"INSERT INTO {child} SELECT * FROM temp.keep_{child}")  # nosec B608  # CHILDREN is a constant
        op.execute(f"DROP TABLE temp.keep_{child}")


def upgrade() -> None:
    with _children_kept(), op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("id_number_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.drop_constraint(op.f("uq_residents_id_number"), type_="unique")
        for name, old in OLD_TYPES.items():
            batch.alter_column(name, type_=sa.Text(), existing_type=old, existing_nullable=True)
        batch.create_unique_constraint(op.f("uq_residents_id_number_hash"), ["id_number_hash"])
        batch.create_index(op.f("ix_residents_phone_hash"), ["phone_hash"], unique=False)
    _convert(seal=True)


def downgrade() -> None:
    _convert(seal=False)
    with _children_kept(), op.batch_alter_table("residents") as batch:
        batch.drop_index(op.f("ix_residents_phone_hash"))
        batch.drop_constraint(op.f("uq_residents_id_number_hash"), type_="unique")
        for name, old in OLD_TYPES.items():
            batch.alter_column(name, type_=old, existing_type=sa.Text(), existing_nullable=True)
        batch.create_unique_constraint(op.f("uq_residents_id_number"), ["id_number"])
        batch.drop_column("phone_hash")
        batch.drop_column("id_number_hash")


def _convert(*, seal: bool) -> None:
    """Encrypt (``seal``) or decrypt the stored values, in the table and in the change log."""
    from api.core.crypto import keyring
    from api.db.data_keys import has_personal_data, reseal

    conn = op.get_bind()
    if not has_personal_data(conn):
        return  # nothing to convert: no key needed (a new database)
    ring = keyring()
    reseal(conn, old=None if seal else ring, new=ring if seal else None)
