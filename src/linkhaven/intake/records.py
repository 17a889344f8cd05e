"""Splitting a CSV delivery into physical records, and checking each one before any parser sees it.

Why not let DuckDB (or any CSV parser) find the records: a parser follows quotes, so one unclosed
quote swallows every record after it, and it counts only what it returns, so the register would
balance while rows vanished. Here a record is one physical line, ended by LF, CRLF or CR (mixed
endings too). No declared field type holds a line break, so a quote still open at the end of its
line is an unterminated quote: that line alone is quarantined and reading resumes at the next one.

Every physical line after the header ends in exactly one place: the clean file, or the rejects,
with a reason and the line's text (escaped and truncated) for the steward. The clean file holds
only records that split into the header's fields, re-written with the ASCII unit separator between
fields and no quoting (a control character, so it cannot occur in a value that passed), which
DuckDB then reads without any room for a different reading. Empty lines at the very end of a file
are not records; an empty line anywhere else is.

The same pass computes the canonical content hash (the decoded text with LF endings and trailing
spaces trimmed), so a delivery re-sent with other line endings or in another encoding is known as
the same delivery.

Most lines of a large delivery take the fast path: a block that decodes cleanly and holds no
control character is checked with a few string operations per line; only a line that holds a quote
or the wrong number of delimiters is parsed on its own.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkhaven.errors import InputError
from linkhaven.intake.lines import KEPT_CHARS, MAX_LINE_BYTES, LongLine, read_blocks

SEPARATOR = "\x1f"
"""Field separator of the clean file: ASCII unit separator, which no accepted value contains."""
MAX_FIELD_CHARS = 1 << 16
"""No declared field (a name, a code, a date, a number) comes near this; a longer one is oversize_field."""

# C0 controls but tab, DEL, the C1 controls (what Latin-1 makes of 0x80-0x9F), and the bidirectional
# overrides that make text display in another order than it is stored.
_BLANK = " \t\r\x0b\x0c"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_PLAIN = bytes([9, 10, *range(0x20, 0x7F), *range(0x80, 0x100)])
"""Bytes that are never a control character by themselves (in UTF-8 and Windows-1252)."""
_PLAIN_LATIN1 = bytes([9, 10, *range(0x20, 0x7F), *range(0xA0, 0x100)])

REASONS = {
    "empty_line": "an empty line between records",
    "repeated_header": "the header row, repeated",
    "invalid_encoding": "bytes that are not text in the delivery's encoding",
    "mixed_encoding": "UTF-8 text inside a delivery declared Windows-1252 or Latin-1",
    "control_character": "a NUL or other control character",
    "line_too_long": f"a line over {MAX_LINE_BYTES:,} bytes",
    "oversize_field": f"a field over {MAX_FIELD_CHARS:,} characters",
    "unterminated_quote": "a quoted field not closed on its line",
    "bad_quoting": "a quote inside a field that is not quoted, or text after a closing quote",
    "truncated_line": "fewer fields than the header",
    "too_many_columns": "more fields than the header",
}
"""Every reason a line is rejected for before its values are checked (docs/operations.md lists them)."""


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    text: str


@dataclass
class ScanResult:
    header: list[str]
    records: int
    """Physical records after the header: each is in the clean file or among the rejects."""
    clean: int
    rejects: list[Reject]
    canonical_sha256: str


def scan_delivery(path: Path, encoding: str, delimiter: str, quote: str, clean_path: Path) -> ScanResult:
    """Write the records that split cleanly to `clean_path` (no header) and return the rest as rejects."""
    scanner = _Scanner(encoding, delimiter, quote, path.name)
    try:
        with open(path, "rb") as source, open(clean_path, "w", encoding="utf-8", newline="\n") as clean:
            for block in read_blocks(source.read, strip_bom=encoding == "utf-8"):
                clean.write(scanner.take(block))
    except OSError as err:
        raise InputError(f"{path.name} cannot be read ({err.strerror}).") from None
    return scanner.finish()


@dataclass
class _Block:
    """One block's lines: decoded text, and raw bytes where a line must be checked byte by byte."""

    lines: list[str]
    data: bytes
    """The block's bytes, LF line ends (the header's block: without the header)."""
    text: str | None = None
    """The lines joined, each ending in LF, where the block decoded whole (the header's block: without it)."""
    raw: list[bytes] = field(default_factory=list)
    undecodable: set[int] = field(default_factory=set)


class _Scanner:
    """The per-line decisions, with the counts kept across blocks."""

    def __init__(self, encoding: str, delimiter: str, quote: str, name: str) -> None:
        self.encoding, self.delimiter, self.quote, self.name = encoding, delimiter, quote, name
        self.header: list[str] = []
        self.header_line = ""
        self.line = 0
        self.clean = 0
        self.rejects: list[Reject] = []
        self.pending_empty: list[int] = []
        self.non_ascii = self.not_in_encoding = self.looks_utf8 = self.looks_cp1252 = self.with_nul = 0
        self.hash = hashlib.sha256()
        self.hash_newlines = 0
        d, q = re.escape(delimiter), re.escape(quote)
        field_pattern = f"(?:{q}(?:[^{q}]|{q}{q})*{q}|[^{d}{q}\n]*)"
        self.well_quoted = re.compile(f"{field_pattern}(?:{d}{field_pattern})*")

    def take(self, item: bytes | LongLine) -> str:
        """Decide every line of one block; return the text to append to the clean file."""
        if isinstance(item, LongLine):
            self.line += 1
            self._settle_empty()
            self._reject(self.line, "line_too_long", item.start.decode(self.encoding, "backslashreplace"))
            return ""
        block = self._decode(item)
        self._hash(block)
        start = self.line + 1
        self.line += len(block.lines)
        if start == 1:
            self._read_header(block, 0)
            block.lines, block.raw = block.lines[1:], block.raw[1:]
            block.data = block.data[block.data.index(b"\n") + 1 :]
            if block.text is not None:
                block.text = block.text[len(self.header_line) + 1 :]
            block.undecodable = {i - 1 for i in block.undecodable}
            start = 2
        bad = self._suspects(block)
        if not bad and not self.pending_empty:
            self.clean += len(block.lines)
            return _joined(block).replace(self.delimiter, SEPARATOR)
        out: list[str] = []
        for i, text in enumerate(block.lines):
            reason = bad.get(i, "")
            if reason == "empty":
                self.pending_empty.append(start + i)
                continue
            self._settle_empty()
            if reason == "":
                out.append(text.replace(self.delimiter, SEPARATOR) + "\n")
                self.clean += 1
            elif reason == "quoted":
                out.append(SEPARATOR.join(self._fields(text)) + "\n")
                self.clean += 1
            else:
                shown = block.raw[i].decode(self.encoding, "backslashreplace") if i in block.undecodable else text
                self._reject(start + i, reason, shown)
        return "".join(out)

    def _decode(self, data: bytes) -> _Block:
        try:
            text = data.decode(self.encoding)
            block = _Block(text.split("\n")[:-1], data, text)
        except UnicodeDecodeError:
            block = _Block([], data, None, data.split(b"\n")[:-1])
            for i, raw in enumerate(block.raw):
                try:
                    block.lines.append(raw.decode(self.encoding))
                except UnicodeDecodeError:
                    block.lines.append(raw.decode(self.encoding, "replace"))
                    block.undecodable.add(i)
            return block
        if not data.isascii():
            if self.encoding == "utf-8":
                array = np.frombuffer(data, dtype=np.uint8)
                starts = _starts(array)
                self.non_ascii += int(np.count_nonzero(np.logical_or.reduceat(array >= 0x80, starts)))
            else:
                block.raw = data.split(b"\n")[:-1]
        return block

    def _suspects(self, block: _Block) -> dict[int, str]:
        """Lines that are not plain records: a reason, "quoted" (parsed fine, but holds quotes) or "empty"."""
        lines = block.lines
        bad: dict[int, str] = {}
        if block.raw:
            self._check_encoding(block, bad)
        if block.text is None or self._has_control(block):
            for i, text in enumerate(lines):
                if i in bad:
                    continue
                if "\ufffd" in text:
                    bad[i] = "invalid_encoding"
                elif not text.strip(_BLANK):  # only form feeds or vertical tabs: a blank line, not a record
                    bad[i] = "empty"
                elif _CONTROL.search(text):
                    bad[i] = "control_character"
                    self.with_nul += "\0" in text
        for i in self._odd_lines(block.data, len(lines)):
            if i not in bad:
                bad[i] = self._parse(lines[i])
        first = self.header[0].lower()
        names = {self.header[0], first, first.upper()}
        if block.text is None or any(name in block.text for name in names):  # the header again, in any spacing
            for i, text in enumerate(lines):
                if i not in bad and text.lstrip(' "').lower().startswith(first):
                    bad[i] = self._parse(text)
        return {i: reason for i, reason in bad.items() if reason}

    def _odd_lines(self, data: bytes, count: int) -> list[int]:
        """Lines that hold a quote, the wrong number of delimiters, or too many bytes, found byte-wise.

        The delimiter and quote are ASCII, so in every supported encoding they are these very bytes."""
        if not count:
            return []
        array = np.frombuffer(data, dtype=np.uint8)
        starts = _starts(array)
        odd = np.add.reduceat(array == ord(self.delimiter), starts, dtype=np.int64) != len(self.header) - 1
        odd |= np.diff(starts, append=len(array)) - 1 > MAX_FIELD_CHARS
        if self.quote.encode() in data:
            odd |= np.add.reduceat(array == ord(self.quote), starts, dtype=np.int64) > 0
        return [int(i) for i in np.flatnonzero(odd)]

    def _has_control(self, block: _Block) -> bool:
        """Whether any line holds a control character; checked on the bytes at C speed, the regex only
        where a multi-byte character could be one."""
        if block.data.translate(None, _PLAIN_LATIN1 if self.encoding == "latin-1" else _PLAIN):
            return True
        if self.encoding != "utf-8" or not (b"\xc2" in block.data or b"\xe2" in block.data or b"\xef" in block.data):
            return False
        return bool(_CONTROL.search(block.text or "")) or "\ufffd" in (block.text or "")

    def _parse(self, text: str) -> str:
        """Why this line is not a record of the header's fields; "quoted" if it is one that holds quotes."""
        if not text.strip(_BLANK):  # ASCII blanks only: a line of U+2028 or NBSP is not empty
            return "empty"
        if len(text) > MAX_FIELD_CHARS and len(text.encode("utf-8")) > MAX_LINE_BYTES:
            return "line_too_long"
        if self.quote in text and not self.well_quoted.fullmatch(text):
            return "unterminated_quote" if text.count(self.quote) % 2 else "bad_quoting"
        try:
            fields = self._fields(text)
        except csv.Error:  # a field beyond the csv module's own limit
            return "oversize_field"
        if len(fields) < len(self.header):
            return "truncated_line"
        if len(fields) > len(self.header):
            return "too_many_columns"
        if any(len(f) > MAX_FIELD_CHARS for f in fields):
            return "oversize_field"
        if [f.strip().lower() for f in fields] == [h.lower() for h in self.header]:
            return "repeated_header"
        return "quoted" if self.quote in text else ""

    def _fields(self, text: str) -> list[str]:
        return next(csv.reader((text,), delimiter=self.delimiter, quotechar=self.quote, strict=True))

    def _check_encoding(self, block: _Block, bad: dict[int, str]) -> None:
        """Count non-ASCII lines by what they decode as; flag UTF-8 inside a single-byte delivery."""
        for i, raw in enumerate(block.raw):
            if raw.isascii():
                continue
            self.non_ascii += 1
            utf8 = _decodes(raw, "utf-8")
            self.looks_utf8 += utf8
            self.looks_cp1252 += _decodes(raw, "cp1252")
            if i in block.undecodable:
                self.not_in_encoding += 1
                bad[i] = "invalid_encoding"
            elif self.encoding != "utf-8" and utf8:
                self.not_in_encoding += 1
                bad[i] = "mixed_encoding"

    def _read_header(self, block: _Block, i: int) -> None:
        text = block.lines[i] if block.lines else ""
        if i in block.undecodable or _CONTROL.search(text) or "\ufffd" in text:
            raise InputError(
                f"{self.name}: the header row is not {self.encoding} text or holds control characters; the file "
                "looks like another encoding (UTF-16?) or format. Check it against the spec; nothing was stored."
            )
        try:
            names = [h.strip() for h in self._fields(text)] if text.strip() else []
        except csv.Error:
            raise InputError(f"{self.name}: the header row's quoting is broken; check the file's format.") from None
        if not names or any(not n for n in names):
            raise InputError(f"{self.name}: the first row is not a header of named columns (an empty column name).")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(f"{self.name}: the header repeats column(s) {', '.join(repeated)}; each must appear once.")
        self.header, self.header_line = names, text

    def _reject(self, line: int, reason: str, text: str) -> None:
        self.rejects.append(Reject(line, reason, _CONTROL.sub(_escaped, text[:KEPT_CHARS])))

    def _settle_empty(self) -> None:
        """Empty lines followed by a record are records (quarantined); at the end of the file they are not."""
        for line in self.pending_empty:
            self._reject(line, "empty_line", "")
        self.pending_empty.clear()

    def _hash(self, block: _Block) -> None:
        text = _joined(block)
        if " \n" in text or "\t\n" in text:
            text = _TRAILING_SPACE.sub("\n", text)
        body = text.rstrip("\n")
        if body:
            self.hash.update(("\n" * self.hash_newlines + body).encode("utf-8", "surrogatepass"))
            self.hash_newlines = len(text) - len(body)
        else:
            self.hash_newlines += len(text)

    def finish(self) -> ScanResult:
        if not self.header:
            raise InputError(f"{self.name} is empty; expected a header row and data rows.")
        self._refuse_wrong_encoding()
        records = max(self.line - 1, 0) - len(self.pending_empty)
        if self.clean + len(self.rejects) != records:
            raise InputError(
                f"{self.name}: {records:,} records were read but {self.clean:,} split cleanly and "
                f"{len(self.rejects):,} were rejected; nothing was stored. Report this file's shape (not its "
                "contents) to the linkhaven maintainers."
            )
        return ScanResult(self.header, records, self.clean, self.rejects, self.hash.hexdigest())

    def _refuse_wrong_encoding(self) -> None:
        """A declared encoding that is wrong for most lines means a wrong delivery, not a few bad rows."""
        records = max(self.line - 1, 1)
        if self.with_nul >= 3 and self.with_nul * 2 > records:
            raise InputError(
                f"{self.name}: {self.with_nul:,} of {records:,} lines hold NUL bytes; the file looks like UTF-16 "
                f"or binary, not {self.encoding} text. The whole file is refused and nothing was stored: ask the "
                "source to re-deliver as the spec declares."
            )
        if self.non_ascii < 3 or self.not_in_encoding * 2 <= self.non_ascii:
            return
        if self.looks_utf8 * 2 > self.non_ascii:
            looks = "UTF-8"
        elif self.looks_cp1252 * 2 > self.non_ascii:
            looks = "Windows-1252 (cp1252)"
        else:
            looks = "neither UTF-8 nor Windows-1252"
        raise InputError(
            f"{self.name} is declared {self.encoding} in the spec, but {self.not_in_encoding:,} of the "
            f"{self.non_ascii:,} lines with non-ASCII characters are not {self.encoding}; it looks like {looks}. "
            "The whole file is refused and nothing was stored: ask the source to re-deliver in the agreed "
            "encoding, or correct the source's encoding in the spec."
        )


def _joined(block: _Block) -> str:
    return block.text if block.text is not None else "".join(f"{line}\n" for line in block.lines)


def _starts(array: np.ndarray) -> np.ndarray:
    """Offset of each line in a block whose every line ends in LF."""
    return np.concatenate(([0], np.flatnonzero(array == 10)[:-1] + 1))


def _escaped(match: re.Match[str]) -> str:
    """A control character as the steward sees it in an export: `\\x00`, `\\u202e`."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True
