"""Rotate the data key: re-encrypt every sealed value of a database with a new key.

The key file of the new key is read when it exists, else made (mode 0600); the rows are
resealed in one transaction (:func:`api.db.data_keys.reseal`). ``wangge keys rotate`` prints
the result.
"""

from __future__ import annotations

from pathlib import Path

from api.core.crypto import (
    DataKeyError,
    Keyring,
    keyring,
    new_data_key,
    parse_data_key,
    write_key_file,
)
from api.db.data_keys import reseal
from api.db.dry_run import write_scope

__all__ = ["rotate_data_key"]


def rotate_data_key(db_url: str, new_key_file: Path, *, dry_run: bool = False) -> dict[str, object]:
    """Re-encrypt every sealed value of ``db_url`` from the configured key to the key in
    ``new_key_file`` (made there, mode 0600, when the file does not exist); one transaction.

    Returns the old and new key ids and the rows rewritten. With ``dry_run`` the rows are
    re-encrypted and rolled back, the key file is made in a temporary folder only, and the
    result has ``would_write`` (:class:`api.db.dry_run.WriteReport`).
    """
    old = keyring()
    with write_scope(db_url, dry_run=dry_run) as scope:
        if new_key_file.exists():
            text = new_key_file.read_text(encoding="ascii")
            new_key = parse_data_key(text, source=str(new_key_file))
        else:
            text = new_data_key()
            new_key = parse_data_key(text)
            write_key_file(scope.output(new_key_file), text)
        if new_key.key_id == old.current.key_id:
            raise DataKeyError(
                f"{new_key_file}: 新密钥与当前密钥相同 / the new key is the current key"
            )
        with scope.begin() as conn:
            counts = reseal(conn, old=old, new=Keyring(new_key))
    result = {"old_key_id": old.current.key_id, "new_key_id": new_key.key_id, **counts}
    return result | ({"would_write": scope.report.as_dict()} if dry_run else {})
