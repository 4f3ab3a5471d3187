"""Re-sealing stored personal data: encrypt existing rows, rotate the data key, decrypt.

:func:`reseal` rewrites every sensitive resident field (:data:`SENSITIVE_RESIDENT_FIELDS`),
its keyed hash, and the same fields inside the change log, in the caller's transaction. It
is used by the migration that introduced encryption (clear text → sealed), by
``wangge keys rotate`` (old key → new key) and by that migration's downgrade (sealed → clear).
It works on the tables through Core with plain text columns, so the process's own keyring
plays no part.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.core.crypto import Keyring, is_ciphertext
from api.db.migrations.ddl import append_only_sql, drop_append_only_sql

__all__ = ["has_personal_data", "reseal"]

SEALED = ("id_number", "phone", "residence_permit_no")  # = models.SENSITIVE_RESIDENT_FIELDS
HASHED = ("id_number", "phone")  # = models.HASHED_RESIDENT_FIELDS

_residents = sa.table(
    "residents",
    sa.column("id"),
    *(sa.column(f) for f in SEALED),
    *(sa.column(f"{f}_hash") for f in HASHED),
)
_change_log = sa.table(
    "change_log",
    sa.column("id"),
    sa.column("table_name"),
    sa.column("field"),
    sa.column("old_value", sa.JSON),
    sa.column("new_value", sa.JSON),
)


def has_personal_data(conn: sa.Connection) -> bool:
    """Return True when any resident, or any change-log row of one, is stored."""
    return any(
        conn.execute(sa.select(sa.literal(1)).select_from(t).where(w).limit(1)).first()
        for t, w in (
            (_residents, sa.true()),
            (_change_log, _change_log.c.table_name == "residents"),
        )
    )


def reseal(conn: sa.Connection, *, old: Keyring | None, new: Keyring | None) -> dict[str, int]:
    """Rewrite the stored personal data: open it with ``old``, seal it with ``new``.

    ``old`` None: stored values are clear text (values already sealed are opened with
    ``new``); ``new`` None: write clear text. Keyed hashes are recomputed under ``new``.
    Returns how many resident rows and change-log rows were rewritten.
    """
    opener = old or new

    def open_(value: Any, context: str) -> Any:
        if value is None or not is_ciphertext(value):
            return value
        return opener.decrypt(value, context=context)

    def convert(value: Any, context: str) -> Any:
        plain = open_(value, context)
        return plain if plain is None or new is None else new.encrypt(plain, context=context)

    rows = conn.execute(sa.select(_residents).order_by(_residents.c.id)).mappings().all()
    for row in rows:
        plain = {f: open_(row[f], f"residents.{f}") for f in SEALED}
        values = {
            f: v if v is None or new is None else new.encrypt(v, context=f"residents.{f}")
            for f, v in plain.items()
        }
        for f in HASHED:
            values[f"{f}_hash"] = (
                None
                if plain[f] is None or new is None
                else new.blind_index(plain[f], context=f"residents.{f}")
            )
        conn.execute(sa.update(_residents).where(_residents.c.id == row["id"]).values(**values))

    def convert_logged(field: str | None, value: Any) -> Any:
        if field is not None:
            return convert(value, f"change_log.residents.{field}") if field in SEALED else value
        if isinstance(value, dict):
            kept = {k: v for k, v in value.items() if k not in {f"{h}_hash" for h in HASHED}}
            return {k: convert_logged(k, v) if k in SEALED else v for k, v in kept.items()}
        return value

    logged = (
        conn.execute(
            sa.select(_change_log)
            .where(_change_log.c.table_name == "residents")
            .order_by(_change_log.c.id)
        )
        .mappings()
        .all()
    )
    sqlite = conn.dialect.name == "sqlite"
    changed = 0
    # the change log is append-only by trigger: lifted for this rewrite, in this transaction
    for statement in drop_append_only_sql("change_log", sqlite=sqlite):
        conn.execute(sa.text(statement))
    for row in logged:
        old_value = convert_logged(row["field"], row["old_value"])
        new_value = convert_logged(row["field"], row["new_value"])
        if (old_value, new_value) != (row["old_value"], row["new_value"]):
            changed += 1
            conn.execute(
                sa.update(_change_log)
                .where(_change_log.c.id == row["id"])
                .values(old_value=old_value, new_value=new_value)
            )
    for statement in append_only_sql("change_log", sqlite=sqlite):
        conn.execute(sa.text(statement))
    return {"residents": len(rows), "change_log": changed}
