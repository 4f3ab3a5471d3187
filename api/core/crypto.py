"""Field encryption of sensitive personal data (AES-256-GCM) and keyed hashes for look-ups.

A data key is 32 random bytes, written as URL-safe base64 (:func:`new_data_key`, what
``wangge keys new`` prints). It comes from ``WANGGE_DATA_KEY`` or the file named by
``WANGGE_DATA_KEY_FILE`` (:func:`keyring`). Each value is stored as text::

    wg1:<key id>:<base64url(12-byte nonce + ciphertext + 16-byte tag)>

The key id (8 hex digits of a SHA-256 of the key) says which key sealed it, so a rotation can
tell old rows from new and a wrong key fails with a clear message instead of garbage. The
column name (``residents.id_number``) is the associated data: a ciphertext copied into another
column does not open. Beside each encrypted column a keyed hash (HMAC-SHA256 under a key
derived from the data key with HKDF) allows uniqueness constraints and exact look-ups
without decrypting (:meth:`Keyring.blind_index`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.core.errors import ServiceUnavailable

__all__ = [
    "CIPHERTEXT_PREFIX",
    "DataKey",
    "DataKeyError",
    "Keyring",
    "MissingDataKeyError",
    "is_ciphertext",
    "keyring",
    "new_data_key",
    "parse_data_key",
    "reset_keyring",
    "set_keyring",
    "write_key_file",
]

CIPHERTEXT_PREFIX = "wg1"
_NONCE_BYTES = 12


class DataKeyError(ServiceUnavailable, ValueError):
    """A data key that is malformed, unknown to this keyring, or a ciphertext that fails."""


class MissingDataKeyError(DataKeyError):
    """No data key is configured, so sensitive fields can be neither stored nor read."""


def new_data_key() -> str:
    """Return a new random data key: 32 bytes as URL-safe base64 (44 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class DataKey:
    """One AES-256 key, its id and the HMAC key derived from it for keyed hashes."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"wangge data key id\x00" + self.secret).hexdigest()[:8]

    @property
    def index_key(self) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"wangge blind index v1"
        ).derive(self.secret)


def parse_data_key(text: str, *, source: str = "WANGGE_DATA_KEY") -> DataKey:
    """Return the :class:`DataKey` written as URL-safe base64 in ``text``.

    Raises :class:`DataKeyError` naming ``source`` when it does not decode to 32 bytes.
    """
    raw = text.strip()
    try:
        secret = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != 32:
        raise DataKeyError(
            f"{source}: 数据密钥须为 32 字节的 URL 安全 base64（用 wangge keys new 生成）/ "
            "the data key must be 32 bytes in URL-safe base64 (make one with wangge keys new)"
        )
    return DataKey(secret)


def is_ciphertext(value: object) -> bool:
    """Return True when ``value`` looks like a value sealed by this module."""
    return isinstance(value, str) and value.startswith(CIPHERTEXT_PREFIX + ":")


class Keyring:
    """The current data key (encrypts) and older keys (still decrypt), by key id."""

    def __init__(self, current: DataKey, *older: DataKey) -> None:
        self.current = current
        self._keys = {k.key_id: k for k in (*older, current)}

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Seal ``plaintext`` under the current key; ``context`` (the column) is bound in."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.current.secret).encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{CIPHERTEXT_PREFIX}:{self.current.key_id}:{body}"

    def key_id_of(self, token: str) -> str:
        """The key id a stored value was sealed with."""
        parts = token.split(":", 2)
        if len(parts) != 3 or parts[0] != CIPHERTEXT_PREFIX:
            raise DataKeyError("不是加密值 / not an encrypted value")
        return parts[1]

    def decrypt(self, token: str, *, context: str) -> str:
        """Open a value sealed by :meth:`encrypt` (any key of this keyring)."""
        key_id = self.key_id_of(token)
        key = self._keys.get(key_id)
        if key is None:
            raise DataKeyError(
                f"{context}: 数据由另一密钥（{key_id}）加密 / sealed with another data key "
                f"({key_id}); this key is {self.current.key_id}"
            )
        body = token.split(":", 2)[2]
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            plain = AESGCM(key.secret).decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode("utf-8")
            )
        except InvalidTag as exc:
            raise DataKeyError(f"{context}: 密文校验失败 / ciphertext fails its check") from exc
        return plain.decode("utf-8")

    def blind_index(self, value: str, *, context: str) -> str:
        """The keyed hash (HMAC-SHA256, hex) of ``value`` for exact look-up in ``context``."""
        message = context.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self.current.index_key, message, hashlib.sha256).hexdigest()


_keyring: Keyring | None = None


def _configured_key() -> DataKey | None:
    from api.core.config import get_settings

    settings = get_settings()
    if settings.data_key:
        return parse_data_key(settings.data_key)
    if settings.data_key_file is not None:
        path = Path(settings.data_key_file)
        try:
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise MissingDataKeyError(
                f"WANGGE_DATA_KEY_FILE={path}: 无法读取 / cannot read it ({exc.strerror})"
            ) from exc
        return parse_data_key(text, source=f"WANGGE_DATA_KEY_FILE={path}")
    return None


def keyring() -> Keyring:
    """The process's keyring, from the settings on first use.

    Raises :class:`MissingDataKeyError` when neither ``WANGGE_DATA_KEY`` nor
    ``WANGGE_DATA_KEY_FILE`` is set: residents' ID numbers and phones are never stored in clear.
    """
    global _keyring
    if _keyring is None:
        key = _configured_key()
        if key is None:
            raise MissingDataKeyError(
                "未配置数据密钥：请设置 WANGGE_DATA_KEY 或 WANGGE_DATA_KEY_FILE（wangge keys new "
                "生成）/ no data key: set WANGGE_DATA_KEY or WANGGE_DATA_KEY_FILE (make one "
                "with wangge keys new); personal data is never stored in clear"
            )
        _keyring = Keyring(key)
    return _keyring


def set_keyring(ring: Keyring | None) -> None:
    """Use ``ring`` in this process (the demo, key rotation and tests); None: read settings."""
    global _keyring
    _keyring = ring


def write_key_file(path: Path, text: str) -> None:
    """Write a key to a new file only its owner can read (0600; an existing file is refused)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text.strip() + "\n")


def reset_keyring() -> None:
    """Forget the keyring so that the next use reads the settings again."""
    set_keyring(None)
