"""Reading a delivery into DuckDB as text, losing nothing.

Every record of the file ends up either in the `raw` table (all columns as VARCHAR, with its
physical line number) or in `raw_rejects` (a line that is not a record of the header's fields, or
not text in the delivery's encoding, with the reason), so records = rows parsed + rows rejected,
always. `records.py` decides which is which, line by line, before DuckDB sees anything; DuckDB
then loads only the clean records (UTF-8, unquoted, unit-separated), so it cannot read them
differently. The scratch files live in the writer's private scratch directory (mode 0700, removed
when intake ends).
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from linkhaven.errors import InputError
from linkhaven.intake.lines import CHUNK_BYTES, MAX_LINE_BYTES
from linkhaven.intake.records import SEPARATOR, scan_delivery
from linkhaven.sqlquote import lit as _lit
from linkhaven.sqlquote import q as _q

ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "detect"}


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    is_parquet: bool
    encoding: str
    """The encoding used to read: utf-8, cp1252 or latin-1 (utf-8-sig is read as utf-8)."""


@dataclass(frozen=True)
class RawDelivery:
    """The delivery inside a DuckDB connection: tables `raw` and `raw_rejects`."""

    con: duckdb.DuckDBPyConnection
    columns: list[str]
    rows_parsed: int
    rows_rejected: int
    canonical_sha256: str | None
    """Hash of the decoded text with normalised line endings (None for Parquet, whose bytes are canonical)."""

    @property
    def rows_read(self) -> int:
        return self.rows_parsed + self.rows_rejected


def inspect_file(path: Path, declared_encoding: str) -> FileFacts:
    """Hash the file and settle its encoding in one pass over the bytes."""
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    size = 0
    bad_utf8 = 0
    lines = 0
    head = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                if not head:
                    head = chunk[:4]
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
                if declared_encoding == "detect":
                    bad_utf8 += decoder.decode(chunk).count("\ufffd")
    except OSError as err:
        raise InputError(f"{path} cannot be read ({err.strerror}).") from None
    is_parquet = head == b"PAR1"
    if is_parquet:
        return FileFacts(digest.hexdigest(), size, True, "binary")
    if size == 0:
        raise InputError(f"{path} is empty; expected a header row and data rows.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            f"{path.name} is UTF-16 text (it starts with a UTF-16 byte-order mark); the whole file is refused and "
            "nothing was stored. Ask the source to re-deliver in the encoding the spec declares."
        )
    encoding = declared_encoding
    if head.startswith(codecs.BOM_UTF8) or declared_encoding == "utf-8-sig":
        encoding = "utf-8"
    elif declared_encoding == "detect":
        # A few undecodable rows in a UTF-8 file are row faults (quarantined); many mean another encoding.
        encoding = "utf-8" if bad_utf8 <= max(1, lines // 1000) else "cp1252"
    return FileFacts(digest.hexdigest(), size, False, encoding)


def read_delivery(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    facts: FileFacts,
    delimiter: str,
    quote: str,
    scratch: Path,
) -> RawDelivery:
    """Load the file into `raw` (text columns + `__line`) and `raw_rejects` (line, reason, column, text)."""
    if facts.is_parquet:
        return _read_parquet(con, path)
    clean = scratch / "records.txt"
    scan = scan_delivery(path, facts.encoding, delimiter, quote, clean)
    columns = "{" + ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in scan.header) + "}"
    try:
        con.execute(
            f"""CREATE TABLE parsed AS SELECT row_number() OVER () AS __ord, * FROM read_csv(?, columns = {columns},
            header = false, delim = ?, quote = '', escape = '', encoding = 'utf-8', strict_mode = true,
            auto_detect = false, null_padding = false, max_line_size = {2 * MAX_LINE_BYTES})""",
            [str(clean), SEPARATOR],
        )
    except duckdb.Error as err:
        raise InputError(
            f"{path.name}: the checked records could not be loaded ({type(err).__name__}); nothing was stored. "
            "Report this file's shape (not its contents) to the linkhaven maintainers."
        ) from None
    clean.unlink()
    parsed = _scalar(con, "SELECT count(*) FROM parsed")
    if parsed != scan.clean:
        raise InputError(
            f"{path.name}: {scan.clean:,} records were checked but {parsed:,} loaded; nothing was stored. "
            "Report this file's shape (not its contents) to the linkhaven maintainers."
        )
    con.execute("CREATE TABLE raw_rejects (line BIGINT, error_type VARCHAR, column_name VARCHAR, csv_line VARCHAR)")
    if scan.rejects:
        rejects = pa.table(
            {
                "line": pa.array([r.line for r in scan.rejects], pa.int64()),
                "error_type": [r.reason for r in scan.rejects],
                "column_name": pa.nulls(len(scan.rejects), pa.string()),
                "csv_line": [r.text for r in scan.rejects],
            }
        )
        con.register("scan_rejects", rejects)
        con.execute("INSERT INTO raw_rejects SELECT * FROM scan_rejects")
        con.unregister("scan_rejects")
    selected = ", ".join(_q(c) for c in scan.header)
    if not scan.rejects:
        con.execute(f"CREATE VIEW raw AS SELECT __ord + 1 AS __line, {selected} FROM parsed")
    else:
        # Physical line of each clean record: the ord-th data line that was not rejected (the header is line 1).
        con.execute(
            f"""CREATE TABLE lines AS SELECT row_number() OVER (ORDER BY l) AS __ord, l AS __line
            FROM range(2, {scan.records + 2}) t(l) WHERE l NOT IN (SELECT line FROM raw_rejects)"""
        )
        con.execute(f"CREATE VIEW raw AS SELECT lines.__line, {selected} FROM parsed JOIN lines USING (__ord)")
    return RawDelivery(con, scan.header, scan.clean, len(scan.rejects), scan.canonical_sha256)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> RawDelivery:
    try:
        con.execute("CREATE TABLE raw_in AS SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as err:
        raise InputError(
            f"{path.name} could not be read as Parquet ({type(err).__name__}); check the file against the spec."
        ) from None
    columns = [r[0] for r in con.execute("DESCRIBE raw_in").fetchall()]
    casts = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in columns)
    con.execute(f"CREATE TABLE raw AS SELECT row_number() OVER () + 1 AS __line, {casts} FROM raw_in")
    con.execute("DROP TABLE raw_in")
    con.execute("CREATE TABLE raw_rejects (line BIGINT, error_type VARCHAR, column_name VARCHAR, csv_line VARCHAR)")
    parsed = _scalar(con, "SELECT count(*) FROM raw")
    return RawDelivery(con, columns, parsed, 0, None)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
