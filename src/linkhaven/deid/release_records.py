"""The releases register as the library reports it: one release's row, its grants, its description.

Shared by every release module: where a release's data and artefacts live, what `release list/show`
print (`ReleaseInfo`), what publication and analysis receive (`ReleaseData`, `ReadReceipt`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, func, select

from linkhaven.deid import report as reports
from linkhaven.deid.engine import PSEUDONYM
from linkhaven.errors import WorkspaceError
from linkhaven.schema import release_grants, releases
from linkhaven.workspace.workspace import Workspace

ZONE = "releases"
ARTEFACTS_DIR = "releases"
"""Plain artefacts of each release live in `<workspace>/releases/<ID>/`; its data in the encrypted zone."""
STATUSES = ("created", "approved", "revoked")
DUCKDB_MEMORY = "2GB"
"""DuckDB's own memory limit while building a release: the Arrow release and its Parquet bytes come on
top, and the whole must stay within 8 GiB at provincial scale (benchmarks/bench_deid.py)."""
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReleaseInfo:
    """What `release list/show --json` print: status, file paths, roles of columns, threshold, risk."""

    id: str
    section: str
    title: str
    recipient: str
    release_model: str
    status: str
    pseudonyms: str
    data_zone: str
    data_table: str
    data_files: list[str]
    report_json: str
    report_html: str
    dictionary: str
    manifest: str
    quasi_identifiers: list[str]
    sensitive: list[str]
    columns: list[str]
    pseudonym_column: str
    threshold: float
    measure: str
    context_risk: float
    data_risk_after: float
    overall_risk_after: float
    rows: int
    rows_suppressed: int
    persons: int
    created_at: str
    created_by: str
    approved_at: str | None
    approved_by: str | None
    agreement_id: str | None
    revoked_at: str | None
    revoked_by: str | None
    grants: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReleaseData:
    """An approved release as publication and analysis code consume it (see `open_release`)."""

    info: ReleaseInfo
    table: pa.Table
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadReceipt:
    release_id: str
    out: str
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def release_row(conn: Connection, release_id: str) -> dict[str, Any]:
    row = conn.execute(select(releases).where(releases.c.id == release_id)).mappings().first()
    if row is None:
        raise WorkspaceError(f"There is no release {release_id}; see `linkhaven release list`.")
    return dict(row)


def grants_of(conn: Connection, release_id: str) -> list[str]:
    query = select(release_grants.c.analyst).where(release_grants.c.release_id == release_id)
    return sorted(r[0] for r in conn.execute(query))


def release_info(ws: Workspace, row: dict[str, Any], grants: list[str] | None) -> ReleaseInfo:
    folder = ws.root / ARTEFACTS_DIR / row["id"]
    return ReleaseInfo(
        id=row["id"],
        section=row["section"],
        title=row["title"],
        recipient=row["recipient"],
        release_model=row["release_model"],
        status=row["status"],
        pseudonyms=row["pseudonyms"],
        data_zone=row["data_zone"],
        data_table=row["data_table"],
        data_files=[str(ws.zone(row["data_zone"])._file(row["data_table"]))],
        report_json=str(folder / reports.REPORT_JSON),
        report_html=str(folder / reports.REPORT_HTML),
        dictionary=str(folder / reports.DICTIONARY_JSON),
        manifest=str(folder / reports.MANIFEST),
        quasi_identifiers=json.loads(row["quasi_identifiers"]),
        sensitive=json.loads(row["sensitive"]),
        columns=json.loads(row["columns"]),
        pseudonym_column=PSEUDONYM,
        threshold=row["threshold"],
        measure=row["measure"],
        context_risk=row["context_risk"],
        data_risk_after=row["data_risk_after"],
        overall_risk_after=row["overall_risk_after"],
        rows=row["rows_released"],
        rows_suppressed=row["rows_suppressed"],
        persons=row["persons"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        approved_at=row["approved_at"],
        approved_by=row["approved_by"],
        agreement_id=row["agreement_id"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        grants=grants,
    )


def show(ws: Workspace, release_id: str) -> ReleaseInfo:
    with ws.engine.connect() as conn:
        return release_info(ws, release_row(conn, release_id), grants_of(conn, release_id))


def next_id(conn: Connection) -> str:
    count = conn.execute(select(func.count()).select_from(releases)).scalar_one()
    return f"REL{count + 1:04d}"
