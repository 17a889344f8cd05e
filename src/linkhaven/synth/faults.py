"""Bad input, as real deliveries carry it (`--inject-faults` only).

Two levels, because intake must treat them differently:

* **In the main files** (`cpin.csv`, `onsis.csv`, `eqao.csv`): an undeclared extra column (file
  level; intake drops the column and carries on) and extra *rows* that intake must quarantine:
  `malformed_date`, `outside_window`, `duplicate_row`, `truncated_line`, `invalid_encoding` and
  `invalid_code`. Every clean row is still there, byte for byte as without faults (plus the extra
  column), so the rows that pass intake are exactly the clean extract.
* **Variant files** that intake must refuse whole: `<source>_forbidden.csv` (a forbidden column:
  `HEALTH_CARD_NO`, `SIN`, `OHIP_NUMBER`) and `eqao_wrong_encoding.csv` (UTF-16). They hold copies
  of the first rows of the main file, so they add no new records.

Each faulty row is a copy of a real record: a new record id (mapped to its true person in
`truth.csv`) except `duplicate_row`, which repeats an existing line exactly. `faults.json` lists
every fault with its file, kind, line and record id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.writer import header_bytes, row_bytes, visible, write_table

ROW_FAULTS = ("malformed_date", "outside_window", "duplicate_row", "truncated_line", "invalid_encoding",
              "invalid_code")
FAULT_FILES = ("faults.json", "cpin_forbidden.csv", "onsis_forbidden.csv", "eqao_forbidden.csv",
               "eqao_wrong_encoding.csv")
VARIANT_ROWS = 50
MARKER = "@@INVALID@@"


@dataclass(frozen=True)
class SourceFaults:
    """How to break one source's rows: which columns, and with what values."""

    source: str
    id_column: str
    id_prefix: str
    id_digits: int
    date_column: str
    malformed_dates: tuple[str, ...]
    window_column: str
    outside_values: tuple[str, ...]
    name_columns: tuple[str, str]
    code_column: str
    bad_code: str
    extra_column: str
    extra_after: str | None  # insert the undeclared column after this one (None: at the end)
    forbidden_column: str


SOURCE_FAULTS = {
    "onsis": SourceFaults(
        "onsis", "ENROLMENT_ID", "R", 10, "DATE_OF_BIRTH", ("20111345", "2011-04-05", "05/04/2011", "20110230"),
        "SCHOOL_YEAR", ("2016-17", "2023-24"), ("LEGAL_FIRST_NAME", "LEGAL_LAST_NAME"), "BOARD_NUMBER", "B99999",
        "HOMEROOM", None, "SIN",
    ),
    "eqao": SourceFaults(
        "eqao", "EQAO_RECORD_ID", "Q", 10, "BIRTH_DATE", ("2011-13-05", "2011/04/05", "05-04-2011", "2011-02-30"),
        "SCHOOL_YEAR", ("2016-17", "2023-24"), ("FIRST_NAME", "LAST_NAME"), "ASSESSMENT", "G4_MATH", "TEST_FORM", None,
        "OHIP_NUMBER",
    ),
    "cpin": SourceFaults(
        "cpin", "EPISODE_ID", "E", 9, "BIRTH_DATE", ("2011-13-05", "2011/04/05", "05-04-2011", "2011-02-30"),
        "EPISODE_START", ("2016-05-12", "2023-10-02"), ("FIRST_NAME", "LAST_NAME"), "SOCIETY_CODE", "CAS99",
        "WORKER_ID", "FIRST_LANGUAGE", "HEALTH_CARD_NO",
    ),
}


@dataclass
class FaultReport:
    """What was injected into one file, as written to `faults.json`."""

    file: str
    source: str
    encoding: str
    expected: str
    file_faults: list[dict[str, Any]] = field(default_factory=list)
    row_faults: list[dict[str, Any]] = field(default_factory=list)
    new_records: list[tuple[str, int]] = field(default_factory=list)  # (record id, person index)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "file": self.file,
            "source": self.source,
            "encoding": self.encoding,
            "expected": self.expected,
            "file_faults": self.file_faults,
            "row_faults": self.row_faults,
        }


def faults_per_kind(rows: int) -> int:
    """About one fault of each kind per 2,000 rows, at least one and at most 100."""
    return int(min(100, max(1, round(rows * 0.0005))))


def _with_extra_column(rng: np.random.Generator, table: pa.Table, spec: SourceFaults) -> pa.Table:
    n = table.num_rows
    if spec.source == "onsis":
        values = pa.array(rng.integers(100, 400, n)).cast(pa.string())
    elif spec.source == "eqao":
        values = pa.array(np.array(["A", "B", "C"])[rng.integers(0, 3, n)])
    else:
        values = pc.binary_join_element_wise("W", pa.array(rng.integers(10000, 99999, n)).cast(pa.string()), "")
    at = table.num_columns if spec.extra_after is None else table.column_names.index(spec.extra_after) + 1
    return table.add_column(at, spec.extra_column, values)


def _set(row: pa.Table, column: str, value: str) -> pa.Table:
    i = row.column_names.index(column)
    return row.set_column(i, column, pa.array([value], pa.string()))


def _new_ids(rng: np.random.Generator, table: pa.Table, spec: SourceFaults, k: int) -> list[str]:
    """`k` record ids in the source's format that no row uses (one scan of the id column)."""
    out: list[str] = []
    while len(out) < k:
        numbers = rng.integers(0, 10**spec.id_digits, 2 * k)
        candidates = list(dict.fromkeys(f"{spec.id_prefix}{x:0{spec.id_digits}d}" for x in numbers))
        taken = table.column(spec.id_column).filter(
            pc.is_in(table.column(spec.id_column), value_set=pa.array(candidates)))
        used = set(taken.to_pylist()) | set(out)
        out += [c for c in candidates if c not in used][: k - len(out)]
    return out


def inject(
    rng: np.random.Generator, out_dir: Path, file: str, table: pa.Table, encoding: str
) -> list[FaultReport]:
    """Write `file` with its row faults and extra column, plus its refusal variants; report them."""
    spec = SOURCE_FAULTS[file.removesuffix(".csv")]
    table = _with_extra_column(rng, table, spec)
    n = table.num_rows
    k = faults_per_kind(n)
    report = FaultReport(file, spec.source, encoding, "accepted_with_quarantine")
    report.file_faults.append({"kind": "undeclared_column", "column": spec.extra_column,
                               "expected": "column_dropped"})
    persons = table.column("_person").to_numpy()
    ids = iter(_new_ids(rng, table, spec, k * (len(ROW_FAULTS) - 1)))
    inserts: list[tuple[int, bytes]] = []
    meta: list[dict[str, Any]] = []
    accented = _accented_rows(table, spec, encoding)
    for kind in ROW_FAULTS:
        for j in range(k):
            src = int(rng.integers(0, n))
            if kind == "invalid_encoding" and len(accented):
                src = int(accented[int(rng.integers(0, len(accented)))])
            row = table.slice(src, 1)
            entry: dict[str, Any] = {"kind": kind, "expected": "quarantined"}
            position = int(rng.integers(0, n + 1))
            if kind == "duplicate_row":
                position = int(rng.integers(src + 1, n + 1))
                entry.update(record_id=row.column(spec.id_column)[0].as_py(), duplicate_of_row=src)
                inserts.append((position, row_bytes(row, encoding)))
                meta.append(entry)
                continue
            record_id = next(ids)
            row = _set(row, spec.id_column, record_id)
            entry["record_id"] = record_id
            report.new_records.append((record_id, int(persons[src])))
            if kind == "malformed_date":
                row = _set(row, spec.date_column, spec.malformed_dates[j % len(spec.malformed_dates)])
                entry["column"] = spec.date_column
            elif kind == "outside_window":
                value = spec.outside_values[j % len(spec.outside_values)]
                row = _set(row, spec.window_column, value)
                if spec.source == "cpin":
                    row = _set(row, "EPISODE_END", "2016-12-20" if value < "2017" else "")
                entry["column"] = spec.window_column
            elif kind == "invalid_code":
                row = _set(row, spec.code_column, spec.bad_code)
                entry["column"] = spec.code_column
            elif kind == "invalid_encoding":
                column, bad = _misencoded_name(row, spec, encoding)
                row = _set(row, column, MARKER)
                entry["column"] = column
            raw = row_bytes(row, encoding)
            if kind == "invalid_encoding":
                raw = raw.replace(MARKER.encode(encoding), bad)
            elif kind == "truncated_line":
                commas = [i for i, b in enumerate(raw) if b == ord(",")]
                cut = commas[int(rng.integers(2, max(3, len(commas) - 2)))]
                raw = raw[:cut] + b"\n"
                entry["fields_present"] = raw.count(b",") + 1
                if j == k - 1:
                    position, raw = n, raw[:-1]  # the last line of the file, cut before its line end
                    entry["at_end_of_file"] = True
            inserts.append((position, raw))
            meta.append(entry)
    lines = write_table(out_dir / file, table, encoding, inserts)
    # line numbers of the duplicated originals: count inserts before them
    for entry, line in zip(meta, lines, strict=True):
        entry["line"] = line
        if "duplicate_of_row" in entry:
            src = entry.pop("duplicate_of_row")
            before = sum(1 for pos, _ in inserts if pos <= src)
            entry["duplicate_of_line"] = src + 2 + before
    report.row_faults = sorted(meta, key=lambda e: e["line"])
    reports = [report]

    # a whole-file refusal: a forbidden column
    clean = visible(table.drop_columns([spec.extra_column])).slice(0, min(VARIANT_ROWS, n))
    forbidden = clean.append_column(spec.forbidden_column, _fake_numbers(rng, clean.num_rows, spec.forbidden_column))
    name = f"{spec.source}_forbidden.csv"
    write_table(out_dir / name, forbidden, encoding)
    reports.append(FaultReport(name, spec.source, encoding, "file_refused", [
        {"kind": "forbidden_column", "column": spec.forbidden_column, "expected": "file_refused"}]))
    if spec.source == "eqao":
        name = "eqao_wrong_encoding.csv"
        text = (header_bytes(clean.column_names, "utf-8") + row_bytes(clean, "utf-8")).decode("utf-8")
        (out_dir / name).write_bytes(text.encode("utf-16"))
        reports.append(FaultReport(name, spec.source, "utf-16", "file_refused", [
            {"kind": "wrong_encoding", "declared": "utf-8", "actual": "utf-16", "expected": "file_refused"}]))
    return reports


# UTF-8 encodes these with a second byte that Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90,
# 0x9D), so a UTF-8 name holding one cannot be decoded as Windows-1252.
CP1252_BREAKERS = "ÁÍÏÐÝ"


def _accented_rows(table: pa.Table, spec: SourceFaults, encoding: str) -> np.ndarray[Any, Any]:
    """Rows whose name, written in the other encoding, cannot be decoded in the file's encoding."""
    pattern = f"[{CP1252_BREAKERS}]" if encoding == "cp1252" else "[^\\x00-\\x7f]"
    mask = None
    for column in spec.name_columns:
        hit = pc.fill_null(pc.match_substring_regex(table.column(column), pattern), False)
        mask = hit if mask is None else pc.or_(mask, hit)
    return np.flatnonzero(mask.to_numpy(zero_copy_only=False)) if mask is not None else np.zeros(0, int)


def _misencoded_name(row: pa.Table, spec: SourceFaults, encoding: str) -> tuple[str, bytes]:
    """The column to break and its bytes in the wrong encoding: the row's own accented name in
    Windows-1252 inside a UTF-8 file, or in UTF-8 inside the Windows-1252 CPIN file (Álvarez when
    the row has no name that breaks Windows-1252)."""
    for column in spec.name_columns:
        value = row.column(column)[0].as_py() or ""
        if encoding == "cp1252" and any(c in CP1252_BREAKERS for c in value):
            return column, value.encode("utf-8")
        if encoding != "cp1252" and not value.isascii():
            return column, value.encode("cp1252")
    if encoding == "cp1252":
        return spec.name_columns[1], "Álvarez".encode()
    return spec.name_columns[0], "Hélène".encode("cp1252")


def _fake_numbers(rng: np.random.Generator, n: int, column: str) -> pa.Array:
    """Obviously synthetic values for a forbidden column (never a real number's check digit)."""
    if column == "SIN":
        digits = rng.integers(100_000_000, 999_999_999, n)
        return pa.array([f"{d:09d}" for d in digits])
    digits = rng.integers(1_000_000_000, 9_999_999_999, n)
    suffix = ["AB", "CD", "EF"]
    return pa.array([f"{d:010d}{suffix[i % 3]}" for i, d in enumerate(digits)])
