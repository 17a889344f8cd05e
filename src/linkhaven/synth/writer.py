"""CSV output: fast, byte-for-byte deterministic, in each institution's encoding.

pyarrow writes the body (values unquoted unless a value needs quoting, empty for missing, `\\n` line
ends); the header is written by hand so that it is unquoted too. Hidden truth columns (`_...`) are
never written. Raw lines (the injected faults) can be spliced in before any data row; the writer
reports the physical line number each landed on so `faults.json` can point at it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

CHUNK_ROWS = 1_000_000


def visible(table: pa.Table) -> pa.Table:
    """The table without its hidden truth columns."""
    return table.select([name for name in table.column_names if not name.startswith("_")])


def _body(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    try:
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:
        # a value holds a comma, quote or line break: quote as RFC 4180 requires
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def row_bytes(table: pa.Table, encoding: str) -> bytes:
    """One or more rows rendered exactly as the file would hold them."""
    body = _body(visible(table))
    return body if encoding == "utf-8" else body.decode("utf-8").encode(encoding)


def header_bytes(columns: Sequence[str], encoding: str) -> bytes:
    """The header line."""
    return (",".join(columns) + "\n").encode(encoding)


def write_table(
    path: Path,
    table: pa.Table,
    encoding: str = "utf-8",
    inserts: Sequence[tuple[int, bytes]] = (),
) -> list[int]:
    """Write `table` as CSV; `inserts` are (data-row position, raw line) pairs, the raw line going
    just before that row (position == number of rows: at the end). Returns the 1-based physical
    line number of each insert, in the order given."""
    data = visible(table)
    order = sorted(range(len(inserts)), key=lambda i: (inserts[i][0], i))
    lines = [0] * len(inserts)
    with path.open("wb") as out:
        out.write(header_bytes(data.column_names, encoding))
        line = 1
        written = 0
        for i in order:
            position, raw = inserts[i]
            line += _write_rows(out, data, written, position, encoding)
            written = position
            out.write(raw)
            line += 1
            lines[i] = line
        _write_rows(out, data, written, data.num_rows, encoding)
    return lines


def _write_rows(out: io.BufferedWriter, data: pa.Table, start: int, stop: int, encoding: str) -> int:
    for lo in range(start, stop, CHUNK_ROWS):
        hi = min(stop, lo + CHUNK_ROWS)
        out.write(row_bytes(data.slice(lo, hi - lo), encoding))
    return stop - start


def write_tables(path: Path, tables: Iterable[pa.Table], encoding: str = "utf-8") -> int:
    """Write tables with the same columns one after another under one header (built lazily, so
    only one part is in memory at a time). Returns the number of data rows."""
    rows = 0
    with path.open("wb") as out:
        for i, table in enumerate(tables):
            data = visible(table)
            if i == 0:
                out.write(header_bytes(data.column_names, encoding))
            rows += _write_rows(out, data, 0, data.num_rows, encoding)
    return rows
