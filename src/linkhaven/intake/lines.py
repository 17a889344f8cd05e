"""Reading a delivery as blocks of complete physical lines, in bounded memory.

A record is one physical line, ended by LF, CRLF or CR (mixed endings too); blocks hand the
scanner (`records`) whole lines only, normalised to LF. A line longer than `MAX_LINE_BYTES` comes
as its first bytes alone, and the rest is skipped, so one runaway line cannot exhaust memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_LINE_BYTES = 1 << 20
"""A longer line is quarantined as line_too_long; only its start is kept, so memory stays bounded."""
KEPT_CHARS = 4096
"""How much of a rejected line's text is kept for `quarantine export`."""
CHUNK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class LongLine:
    start: bytes


def read_blocks(read: Callable[[int], bytes], strip_bom: bool) -> Iterator[bytes | LongLine]:
    """The file as blocks of complete lines, each ending in LF (CRLF and CR normalised), in order;
    a line too long to hold comes as its first bytes only, the rest skipped."""
    carry = b""
    first, skipping, eof = True, False, False
    while not eof:
        chunk = read(CHUNK_BYTES)
        eof = not chunk
        data = carry + chunk
        carry = b""
        if first:
            first = False
            if strip_bom:
                data = data.removeprefix(b"\xef\xbb\xbf")
        if eof and data and not data.endswith((b"\n", b"\r")):
            data += b"\n"  # a last line without its line end is still a record
        if skipping:
            end = _first_end(data)
            if end < 0 or (end == len(data) - 1 and data[end:] == b"\r" and not eof):
                carry = data[end:] if end >= 0 else b""  # a final CR may be half a CRLF
                continue
            data = data[end + (2 if data[end : end + 2] == b"\r\n" else 1) :]
            skipping = False
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut == len(data) - 1 and data.endswith(b"\r") and not eof:
            cut = max(data.rfind(b"\n", 0, cut), data.rfind(b"\r", 0, cut))
        complete, carry = data[: cut + 1], data[cut + 1 :]
        if complete:
            yield complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if len(carry) > MAX_LINE_BYTES:
            yield LongLine(carry[:KEPT_CHARS])
            carry, skipping = b"", True


def _first_end(data: bytes) -> int:
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    return min(ends) if ends else -1
