"""Which image a file is, by its first bytes (incident photos, staff photos)."""

from __future__ import annotations

__all__ = ["IMAGE_HEAD_BYTES", "image_type"]

IMAGE_HEAD_BYTES = 16
"""How many leading bytes :func:`image_type` needs."""


def image_type(head: bytes) -> str | None:
    """The media type of an image by its first bytes: JPEG, PNG or WebP, else None.

    >>> image_type(b"\\x89PNG\\r\\n\\x1a\\n...."), image_type(b"<html>")
    ('image/png', None)
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
