"""Zones: encrypted-at-rest stores of Parquet tables, one per data class.

A zone never decides what may be read; governance does that before a zone is opened. A zone only
guarantees that its files are unreadable without its key and that a table appears whole or not
at all (written to a `.partial` file, synced, then renamed).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from linkhaven.errors import WorkspaceError
from linkhaven.workspace.crypto import open_sealed, seal

SUFFIX = ".lhz"
PARTIAL = ".partial"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,120}$")


@dataclass(frozen=True)
class ZoneFile:
    """What was written: enough to register it and, later, to certify its destruction."""

    zone: str
    table: str
    path: Path
    rows: int
    sha256: str


@dataclass(frozen=True)
class Zone:
    name: str
    path: Path
    key: bytes

    def _file(self, table: str) -> Path:
        if not _NAME.match(table):
            raise WorkspaceError(f"'{table}' is not a valid zone table name (lower case, digits, _ and -).")
        return self.path / f"{table}{SUFFIX}"

    def write(self, table: str, data: pa.Table) -> ZoneFile:
        """Write `data` as table `table`; an existing table of that name is refused (tables are immutable)."""
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink, compression="zstd")
        buffer = sink.getvalue()
        return self._seal(table, io.BytesIO(memoryview(buffer)), buffer.size, data.num_rows)

    def write_parquet_file(self, table: str, parquet: Path, rows: int) -> ZoneFile:
        """Seal a Parquet file (written by DuckDB in private scratch space) as table `table`, streaming."""
        with open(parquet, "rb") as source:
            return self._seal(table, source, parquet.stat().st_size, rows)

    def _seal(self, table: str, source: BinaryIO, size: int, rows: int) -> ZoneFile:
        target = self._file(table)
        if target.exists():
            raise WorkspaceError(f"Zone table {self.name}/{table} already exists; zone tables are never rewritten.")
        self.path.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + PARTIAL)
        digest = hashlib.sha256()
        with open(partial, "wb") as handle:
            for piece in seal(source, size, self.key, f"{self.name}/{table}"):
                handle.write(piece)
                digest.update(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        return ZoneFile(self.name, table, target, rows, digest.hexdigest())

    def read(self, table: str, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole table, or only `columns` (those of them it has): a province's table decoded in
        full when a stage needs three of its columns is gigabytes held for nothing."""
        path = self._file(table)
        if not path.exists():
            raise WorkspaceError(f"Zone table {self.name}/{table} does not exist (destroyed, or never written).")
        plaintext = open_sealed(path.read_bytes(), self.key, f"{self.name}/{table}", f"zone file {path.name}")
        parquet = pq.ParquetFile(pa.BufferReader(plaintext))
        if columns is None:
            return parquet.read()
        present = set(parquet.schema_arrow.names)
        return parquet.read(columns=[c for c in columns if c in present])

    def read_many(self, tables: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
        """Several tables as one (a source's deliveries), each read as `read` does."""
        read = [self.read(t, columns) for t in tables]
        return pa.concat_tables(read, promote_options="permissive") if len(read) > 1 else read[0]

    def exists(self, table: str) -> bool:
        return self._file(table).exists()

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        return sorted(p.name[: -len(SUFFIX)] for p in self.path.iterdir() if p.name.endswith(SUFFIX))

    def remove(self, table: str) -> None:
        self._file(table).unlink(missing_ok=True)

    def remove_orphans(self, registered: set[str]) -> int:
        """Delete partial files and tables no register row points to: the leftovers of a killed write."""
        if not self.path.exists():
            return 0
        removed = 0
        for path in self.path.iterdir():
            orphan = path.name.endswith(PARTIAL) or (
                path.name.endswith(SUFFIX) and path.name[: -len(SUFFIX)] not in registered
            )
            if orphan:
                path.unlink()
                removed += 1
        return removed
