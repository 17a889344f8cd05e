"""Authenticated encryption of whole files, in segments, with AES-256-GCM.

DuckDB cannot write encrypted Parquet offline (its writer needs the httpfs extension), so zone
tables are Parquet bytes sealed here. Segments bound the memory of one AES call, and each
segment's additional data carries the file's context (zone, table), its index and whether it
is the last one, so segments cannot be reordered, moved to another file, or cut off.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from linkhaven.errors import ZoneKeyError

MAGIC = b"LHZ1"
SEGMENT = 16 * 1024 * 1024
_HEADER = struct.Struct(">4s8s")
_LENGTH = struct.Struct(">I")


def _aad(context: bytes, index: int, last: bool) -> bytes:
    return MAGIC + context + struct.pack(">I?", index, last)


def seal(source: BinaryIO, size: int, key: bytes, context: str) -> Iterator[bytes]:
    """Yield the sealed file in pieces (header, then length-prefixed segments), reading `size` bytes
    from `source` one segment at a time, so a file of any size is sealed in bounded memory."""
    aead = AESGCM(key)
    prefix = secrets.token_bytes(8)
    ctx = context.encode()
    yield _HEADER.pack(MAGIC, prefix)
    count = max(1, -(-size // SEGMENT))
    for index in range(count):
        chunk = source.read(SEGMENT)
        nonce = prefix + struct.pack(">I", index)
        sealed = aead.encrypt(nonce, chunk, _aad(ctx, index, index == count - 1))
        yield _LENGTH.pack(len(sealed)) + sealed


def open_sealed(data: bytes, key: bytes, context: str, label: str) -> bytes:
    """Return the plaintext, or raise ZoneKeyError naming `label` (a file, never its content)."""
    aead = AESGCM(key)
    ctx = context.encode()
    if len(data) < _HEADER.size or data[:4] != MAGIC:
        raise ZoneKeyError(f"{label} is not a linkhaven zone file (bad header); restore it from backup.")
    _, prefix = _HEADER.unpack_from(data, 0)
    offset = _HEADER.size
    parts: list[bytes] = []
    index = 0
    while offset < len(data):
        if offset + _LENGTH.size > len(data):
            raise ZoneKeyError(f"{label} is truncated; restore it from backup.")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        sealed = data[offset : offset + length]
        offset += length
        last = offset >= len(data)
        nonce = prefix + struct.pack(">I", index)
        try:
            parts.append(aead.decrypt(nonce, sealed, _aad(ctx, index, last)))
        except InvalidTag:
            raise ZoneKeyError(
                f"{label} failed authentication: the key is wrong or the file was altered or truncated."
            ) from None
        index += 1
    return b"".join(parts)
