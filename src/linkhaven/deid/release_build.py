"""Creating a release: build the panel, de-identify it, write it encrypted, re-measure, register.

A release's data are de-identified but still governed, so they are stored encrypted in the
`releases` zone; the plain, non-personal artefacts sit under `<workspace>/releases/<ID>/`. The
risk is recomputed from the stored file before anything is registered (R29), and a release is
unusable until the privacy officer approves it (`release_lifecycle`).
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import insert

from linkhaven.deid import report as reports
from linkhaven.deid.engine import PERSON_KEY, PSEUDONYM, deidentify
from linkhaven.deid.panel import build_panel, plan_panel
from linkhaven.deid.release_artefacts import register_row, write_artefacts
from linkhaven.deid.release_inputs import read_inputs
from linkhaven.deid.release_records import (
    DUCKDB_MEMORY,
    ZONE,
    Progress,
    ReleaseInfo,
    next_id,
    release_info,
    release_row,
)
from linkhaven.deid.risk import Criterion, RiskMeasure, measure_relation
from linkhaven.errors import GateRefused, SpecError, WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, open_session
from linkhaven.schema import releases
from linkhaven.spec import ProjectSpec
from linkhaven.spec.panels import period_column
from linkhaven.spec.releases import ReleaseSection
from linkhaven.sqlquote import q
from linkhaven.workspace.workspace import Workspace


def _section(spec: ProjectSpec, name: str) -> ReleaseSection:
    section = spec.releases.get(name)
    if section is None:
        known = ", ".join(sorted(spec.releases)) or "none"
        raise SpecError(
            f"The project spec has no release section '{name}' (it has: {known}); see docs/deidentification.md."
        )
    return section


def create_release(
    ws: Workspace,
    section_name: str,
    *,
    linkage_map: pa.Table | None = None,
    progress: Progress | None = None,
) -> ReleaseInfo:
    """Build release `section_name` from the zones and the linkage map (deidentifier). Status: created.

    `linkage_map` is for a map the linkage stage does not hold (tests, a map from another unit); the
    report and manifest record that it was supplied.
    """
    with open_session(ws, Action.RELEASE_CREATE, f"section:{section_name}") as session:
        session.detail["section"] = section_name
        spec = session.spec
        section = _section(spec, section_name)
        plan = plan_panel(spec, section.panel)
        # Loaders, read inside `build`: each input is decoded, copied into DuckDB and let go of in turn.
        inputs, provenance = read_inputs(ws, plan, linkage_map)
        provenance["panel"] = plan.name

        def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
            return build_panel(con, plan, inputs).as_dict()

        return _release(ws, session, spec, section_name, section, build, provenance, progress)


def create_release_from_panel(
    ws: Workspace,
    section_name: str,
    panel: pa.Table | Path,
    *,
    provenance: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ReleaseInfo:
    """Build a release from a prepared panel (Arrow table or Parquet file) with the same gates and records.

    For rehearsals and the scale benchmark, where the panel comes from synthetic data; the report
    and manifest say so. The panel must have the panel's columns and `person_key`.
    """
    with open_session(ws, Action.RELEASE_CREATE, f"section:{section_name}") as session:
        session.detail.update(section=section_name, supplied_panel=True)
        spec = session.spec
        section = _section(spec, section_name)

        def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
            if isinstance(panel, Path):
                con.execute(f"CREATE TABLE panel AS SELECT * FROM read_parquet('{sql_path(panel)}')")
            else:
                con.register("panel_in", panel)
                con.execute("CREATE TABLE panel AS SELECT * FROM panel_in")
                con.unregister("panel_in")
            row = con.execute(f"SELECT count(*), count(DISTINCT {PERSON_KEY}) FROM panel").fetchone() or (0, 0)
            return {"rows": int(row[0]), "persons": int(row[1])}

        given = {"kind": "supplied panel (rehearsal, not from the zones)", **(provenance or {})}
        return _release(ws, session, spec, section_name, section, build, given, progress)


def sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def pseudonym_key(ws: Workspace, release_id: str) -> bytes:
    """The key of a release's keyed pseudonyms: derived from the releases zone key, never stored."""
    message = f"linkhaven release pseudonyms v1|{release_id}".encode()
    return hmac.new(ws.zone(ZONE).key, message, hashlib.sha256).digest()


def _release(
    ws: Workspace,
    session: Session,
    spec: ProjectSpec,
    name: str,
    section: ReleaseSection,
    build: Callable[[duckdb.DuckDBPyConnection], dict[str, int]],
    provenance: dict[str, Any],
    progress: Progress | None,
) -> ReleaseInfo:
    say = progress or (lambda _step: None)
    spec_sha = ws.spec_sha256
    with ws.exclusive() as scratch:
        with ws.engine.connect() as conn:
            release_id = next_id(conn)
        session.object = f"release:{release_id}"
        table_name = f"{release_id.lower()}-data"
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{sql_path(scratch)}'")
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")  # beyond it DuckDB spills to the scratch space
            con.execute("SET preserve_insertion_order = false")
            say("building the panel")
            panel_stats = build(con)
            _check_one_row_per_unit_period(con, period_column(spec, section))
            key = pseudonym_key(ws, release_id) if section.pseudonyms == "keyed" else None
            result = deidentify(con, spec, section, name, key, progress=say)
        finally:
            con.close()
        say("writing the release (encrypted)")
        zone = ws.zone(ZONE)
        released = result.table
        result.table = released.schema.empty_table()  # a slice would keep the rows alive
        _check_no_identifiers(released.schema, spec)
        written = zone.write(table_name, released)
        del released
        try:
            say("recomputing the risk from the stored file")
            qis = [x.column for x in section.quasi_identifiers]
            period = period_column(spec, section)
            after = measure_stored(ws, table_name, qis, result.policy.criterion, result.policy.l_required, period)
            if not after.meets_threshold:
                raise GateRefused(
                    f"The stored release's overall risk {after.overall_risk:.4f} is above the threshold "
                    f"{result.policy.threshold} (recomputed from the file); nothing was released."
                )
            folder = write_artefacts(
                ws, scratch, release_id, name, section, spec, spec_sha, result, after, panel_stats, provenance,
                session.user, written.path, written.sha256, written.rows,
            )  # fmt: skip
        except BaseException:
            zone.remove(table_name)
            raise
        try:
            hashes = {n: reports.sha256_file(folder / n) for n in
                      (reports.REPORT_JSON, reports.DICTIONARY_JSON, reports.MANIFEST)}  # fmt: skip
            session.detail.update(
                release=release_id, rows=after.rows, rows_suppressed=result.chosen.suppressed_rows,
                persons=result.persons, strategy=result.search.strategy,
                overall_risk_after=round(after.overall_risk, 6), meets_threshold=after.meets_threshold,
            )  # fmt: skip
            with session.transaction() as tx:
                ws.register_zone_file(tx, written, session.user)
                tx.execute(insert(releases).values(**register_row(
                    release_id, name, section, result, after, written.sha256, hashes, spec_sha,
                    session.user)))  # fmt: skip
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            zone.remove(table_name)
            raise
    with ws.engine.connect() as conn:
        return release_info(ws, release_row(conn, release_id), [])


def _check_one_row_per_unit_period(con: duckdb.DuckDBPyConnection, period: str | None) -> None:
    keys = f"({PERSON_KEY}, {q(period)})" if period else PERSON_KEY
    row = con.execute(f"SELECT count(*) - count(DISTINCT {keys}) FROM panel").fetchone()
    if row and row[0]:
        raise WorkspaceError(
            f"The panel has {row[0]} rows repeating a person{' in a period' if period else ''}; the risk measure "
            "counts persons by rows, so nothing can be released from it."
        )


def _check_no_identifiers(schema: pa.Schema, spec: ProjectSpec) -> None:
    """Defence in depth: no column named like a direct identifier, a record code or the person key."""
    forbidden = set(reports.direct_identifiers(spec))
    found = sorted(set(schema.names) & forbidden)
    if found:
        raise GateRefused(f"The release would carry direct identifier column(s) {', '.join(found)}; refused.")


def measure_stored(
    ws: Workspace,
    table_name: str,
    qis: list[str],
    criterion: Criterion,
    l_required: dict[str, int],
    period: str | None,
) -> RiskMeasure:
    """R29: the risk of the release as stored, read back from the encrypted zone file."""
    stored = ws.zone(ZONE).read(table_name)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        con.register("released", stored)
        keys = f"({PSEUDONYM}, {q(period)})" if period else PSEUDONYM
        row = con.execute(f"SELECT count(*) - count(DISTINCT {keys}) FROM released").fetchone()
        if row and row[0]:
            raise GateRefused("The stored release repeats a person in a period; refused.")
        return measure_relation(con, "released", qis, criterion, l_required)
    finally:
        con.close()
