"""The values a linkage run takes and returns: inputs, review pairs, decisions, the result.

Kept apart from the steps so that the service, clerical review and evaluation can use them
without importing the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

EMPTY_CONTENT = pa.table({"record_code": pa.array([], pa.string())})
METHODS = ("deterministic", "probabilistic", "clerical", "unlinked")
MAP_SCHEMA = pa.schema(
    [
        ("record_code", pa.string()),
        ("source", pa.string()),
        ("person_key", pa.string()),
        ("method", pa.string()),
        ("match_probability", pa.float64()),
    ]
)


TableOrLoader: TypeAlias = "pa.Table | Callable[[], pa.Table]"
CONTENT_USED = ("record_code", "school_year", "gender", "society_code", "episode_start", "assessment")
"""Content fields the report breaks link rates down by, where a source has them; content fields the
spec binds to identity fields (codes used as evidence) are read as well."""


@dataclass
class SourceInput:
    """One source's identity table (intake's identity-zone columns) and its content table.

    Either may be given as a loader (a function returning the table), which the engine calls once
    and lets go of as soon as DuckDB holds its own copy: a province's tables are then never all in
    Python memory at once, and DuckDB's copy can spill to the private scratch directory."""

    source: str
    identity: TableOrLoader
    content: TableOrLoader | None = None

    def identity_table(self) -> pa.Table:
        return self.identity if isinstance(self.identity, pa.Table) else self.identity()

    def content_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        if self.content is None:
            return EMPTY_CONTENT
        table = self.content if isinstance(self.content, pa.Table) else self.content()
        if columns is not None:
            table = table.select([c for c in table.column_names if c in columns])
        return table


@dataclass(frozen=True)
class ReviewCandidate:
    """A pair for clerical review: record codes, probability and why it is queued; no values."""

    kind: str
    left_code: str
    right_code: str
    match_probability: float | None
    match_weight: float | None
    queue_reason: str
    left_linked: bool = False
    """Whether the left record ended up linked by some other pass (an identifier conflict whose
    record the model linked elsewhere is then informative only)."""


@dataclass(frozen=True)
class Decision:
    """A clerical decision on a pair of record codes, carried into later runs and map versions."""

    left_code: str
    right_code: str
    decision: str
    probability: float | None = None


@dataclass
class EngineResult:
    map_path: Path
    """The linkage map as a Parquet file in the caller's scratch directory, written by DuckDB: a
    province's map (17 million rows) never has to be in Python memory; `map` reads it."""
    review: list[ReviewCandidate]
    stats: dict[str, Any]
    models: dict[str, dict[str, Any]]
    charts: dict[str, dict[str, Any]]
    blocking_rules: dict[str, list[str]]
    review_identity: pa.Table
    """Identity values of the records in review pairs (identity-zone data: the linker's eyes only)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def map(self) -> pa.Table:
        """The map as an Arrow table (record_code, source, person_key, method, match_probability)."""
        return pq.read_table(self.map_path).cast(MAP_SCHEMA)
