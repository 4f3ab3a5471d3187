"""A column type that stores text encrypted (:mod:`api.core.crypto`) and reads it back in clear.

``EncryptedText("residents.id_number")`` seals every value written with the process's data
key and opens every value read; the database, its dumps and backups only ever hold
``wg1:...`` ciphertext. Equality in SQL cannot work on such a column (each value has its own
nonce): look values up through the keyed-hash column stored beside it
(:func:`blind_index`).
"""

from __future__ import annotations

from sqlalchemy import Text, TypeDecorator

from api.core.crypto import keyring

__all__ = ["EncryptedText", "blind_index"]


class EncryptedText(TypeDecorator):
    """Text sealed with AES-GCM under the data key; ``context`` names the column."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return keyring().encrypt(str(value), context=self.context)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return keyring().decrypt(value, context=self.context)

    def copy(self, **kw) -> EncryptedText:
        return EncryptedText(self.context)


def blind_index(value: str | None, *, context: str) -> str | None:
    """The keyed hash of ``value`` for its column ``context`` (None stays None)."""
    return None if value is None else keyring().blind_index(str(value), context=context)
