"""Reading a delivery into DuckDB as text, losing nothing.

Every data row of the file ends up either in the `raw` table (all columns as VARCHAR, with its
physical line number) or in `raw_rejects` (a line DuckDB could not split into the header's
columns, or not decode), so rows read = rows parsed + rows rejected, always.
DuckDB reads UTF-8 only (its Latin-1 reader refuses the bytes 0x80–0x9F that Windows-1252 uses for
curly quotes, dashes, œ, €…), so a Windows-1252 or Latin-1 delivery is first transcoded, in chunks,
to UTF-8 in the writer's private scratch directory (mode 0700, removed when intake ends). The five
bytes Windows-1252 leaves undefined become U+FFFD, which the row checks quarantine as
`invalid_encoding`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from linkhaven.errors import InputError
from linkhaven.sqlquote import lit as _lit
from linkhaven.sqlquote import q as _q

REPLACEMENT = "\ufffd"
"""What an undecodable byte becomes; a row holding it is quarantined as invalid_encoding."""
ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "detect"}
_CHUNK = 16 * 1024 * 1024


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
    non_ascii = False
    head = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                if not head:
                    head = chunk[:4]
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                non_ascii = non_ascii or max(chunk) >= 0x80
                if declared_encoding in {"detect", "cp1252", "latin-1"}:
                    bad_utf8 += decoder.decode(chunk).count("\ufffd")
    except OSError as err:
        raise InputError(f"{path} cannot be read ({err.strerror}).") from None
    is_parquet = head == b"PAR1"
    if is_parquet:
        return FileFacts(digest.hexdigest(), size, True, "binary")
    if size == 0:
        raise InputError(f"{path} is empty; expected a header row and data rows.")
    encoding = declared_encoding
    if head.startswith(codecs.BOM_UTF8) or declared_encoding == "utf-8-sig":
        encoding = "utf-8"
    elif declared_encoding == "detect":
        # A few undecodable rows in a UTF-8 file are row faults (quarantined); many mean another encoding.
        encoding = "utf-8" if bad_utf8 <= max(1, lines // 1000) else "cp1252"
    elif declared_encoding in {"cp1252", "latin-1"} and bad_utf8 == 0 and non_ascii:
        raise InputError(
            f"{path.name} is declared {declared_encoding} in the spec but is UTF-8 encoded; ask the source to "
            "re-deliver in the agreed encoding, or set the source's encoding to 'detect' in the spec."
        )
    return FileFacts(digest.hexdigest(), size, False, encoding)


def read_delivery(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    facts: FileFacts,
    delimiter: str,
    quote: str,
    scratch: Path,
) -> RawDelivery:
    """Load the file into `raw` (text columns + `__line`) and `raw_rejects` (line, error, column)."""
    try:
        if facts.is_parquet:
            con.execute("CREATE TABLE raw_in AS SELECT * FROM read_parquet(?)", [str(path)])
            columns = [r[0] for r in con.execute("DESCRIBE raw_in").fetchall()]
            casts = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in columns)
            con.execute(f"CREATE TABLE raw AS SELECT row_number() OVER () + 1 AS __line, {casts} FROM raw_in")
            con.execute("DROP TABLE raw_in")
            con.execute(
                "CREATE TABLE raw_rejects (line BIGINT, error_type VARCHAR, column_name VARCHAR, csv_line VARCHAR)"
            )
        else:
            source = path if facts.encoding == "utf-8" else _transcode(path, facts.encoding, scratch)
            _read_csv(con, source, delimiter, quote, path.name)
            columns = [r[0] for r in con.execute("DESCRIBE raw").fetchall() if r[0] != "__line"]
    except duckdb.Error as err:
        raise InputError(
            f"{path.name} could not be parsed as {'Parquet' if facts.is_parquet else 'CSV'} "
            f"({type(err).__name__}); check the file's format, delimiter and quoting against the spec."
        ) from None
    parsed = _scalar(con, "SELECT count(*) FROM raw")
    rejected = _scalar(con, "SELECT count(DISTINCT line) FROM raw_rejects")
    return RawDelivery(con, columns, parsed, rejected)


def _transcode(path: Path, encoding: str, scratch: Path) -> Path:
    target = scratch / "transcoded.csv"
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    with open(path, "rb") as source, open(target, "w", encoding="utf-8", newline="") as sink:
        while chunk := source.read(_CHUNK):
            sink.write(decoder.decode(chunk))
        sink.write(decoder.decode(b"", final=True))
    return target


def read_header(path: Path, delimiter: str, quote: str, name: str) -> list[str]:
    """The header row, parsed as the spec declares; a file whose header cannot be read is refused."""
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: the header row is not valid text in the declared encoding; check it.") from None
    header = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter, quotechar=quote), [])
    names = [h.strip() for h in header]
    if not names or any(not n for n in names):
        raise InputError(f"{name}: the first row is not a header of named columns (an empty column name).")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{name}: the header repeats column(s) {', '.join(duplicates)}; each must appear once.")
    return names


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str, quote: str, name: str) -> None:
    header = read_header(path, delimiter, quote, name)
    columns = "{" + ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute(
        f"""CREATE TABLE parsed AS SELECT row_number() OVER () AS __ord, * FROM read_csv(?, columns = {columns},
        header = true, delim = ?, quote = ?, escape = ?, encoding = ?, store_rejects = true,
        rejects_table = 'csv_rejects', rejects_scan = 'csv_reject_scans', strict_mode = false,
        auto_detect = false, null_padding = false, max_line_size = 1048576)""",
        [str(path), delimiter, quote, quote, "utf-8"],
    )
    con.execute(
        """CREATE TABLE raw_rejects AS SELECT CAST(line AS BIGINT) AS line, first(error_type) AS error_type,
        first(column_name) AS column_name, first(csv_line) AS csv_line FROM csv_rejects GROUP BY line"""
    )
    # Physical line of each parsed row: the ord-th data line that was not rejected (header is line 1).
    # `raw` is a view, so the 12-million-row delivery is held once, in `parsed`.
    rejected = _scalar(con, "SELECT count(*) FROM raw_rejects")
    selected = ", ".join(_q(c) for c in header)
    if rejected == 0:
        con.execute(f"CREATE VIEW raw AS SELECT __ord + 1 AS __line, {selected} FROM parsed")
        return
    total = _scalar(con, "SELECT count(*) FROM parsed") + rejected
    con.execute(
        f"""CREATE TABLE lines AS SELECT row_number() OVER (ORDER BY l) AS __ord, l AS __line
        FROM range(2, {int(total) + 2}) t(l) WHERE l NOT IN (SELECT line FROM raw_rejects)"""
    )
    con.execute(f"CREATE VIEW raw AS SELECT lines.__line, {selected} FROM parsed JOIN lines USING (__ord)")






def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
