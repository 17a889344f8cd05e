"""Screening a delivery before anything from it is stored: duplicates, supersession, over-collection, minimisation.

Records already loaded from the source (same record ids) are found here too.

Each check refuses the whole file with a message naming it and the column or delivery concerned,
never a value. Columns that no agreement covers are an incident (R11): it is opened in the
incident register, audited, and the file is refused; undeclared but harmless columns are dropped.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import duckdb
from sqlalchemy import Connection, select

from linkhaven.errors import GateRefused, InputError, WorkspaceError
from linkhaven.governance.incidents import IncidentChange, record_incident
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session
from linkhaven.intake.deliveries import current_deliveries
from linkhaven.intake.overcollection import SAMPLE_SIZE, Finding
from linkhaven.intake.rules import FieldRule, SourceRules
from linkhaven.schema import deliveries
from linkhaven.sqlquote import lit, q
from linkhaven.workspace.workspace import Workspace


def check_not_duplicate(conn: Connection, sha256: str, file_name: str) -> None:
    """The same delivery twice, by its bytes or by its content (other line endings, encoding, padding)."""
    existing = conn.execute(
        select(deliveries.c.id).where((deliveries.c.file_sha256 == sha256) | (deliveries.c.content_sha256 == sha256))
    ).scalar()
    if existing is not None:
        raise GateRefused(
            f"{file_name} was already taken in as delivery {existing} (the same content, whatever its line endings "
            "or encoding); nothing was stored. A corrected re-delivery differs in content: take it in with "
            f"--supersedes {existing}."
        )


def check_supersedable(conn: Connection, delivery_id: str, source: str) -> None:
    row = conn.execute(select(deliveries.c.source, deliveries.c.status).where(deliveries.c.id == delivery_id)).first()
    if row is None:
        raise WorkspaceError(f"There is no delivery {delivery_id} to supersede; see `linkhaven intake status`.")
    if row[0] != source or row[1] != "loaded":
        raise WorkspaceError(
            f"Delivery {delivery_id} is a {row[0]} delivery with status {row[1]}; only a loaded delivery of the "
            "same source can be superseded."
        )


def unagreed_columns(columns: list[str], rules: SourceRules) -> tuple[list[str], list[str]]:
    """The file's columns the spec forbids, and those it does not declare (to be dropped), in file order."""
    declared = rules.by_column()
    forbidden = {c.strip().lower() for c in rules.forbidden_columns}
    found_forbidden = [c for c in columns if c.strip().lower() in forbidden]
    undeclared = [c for c in columns if c.strip().lower() not in declared and c not in found_forbidden]
    return found_forbidden, undeclared


def column_samples(con: duckdb.DuckDBPyConnection, columns: list[str]) -> dict[str, list[str]]:
    """The first non-empty values of each column, to judge what it holds; never shown to anyone."""
    return {
        c: [r[0] for r in con.execute(f"SELECT {q(c)} FROM raw WHERE NULLIF(trim({q(c)}), '') IS NOT NULL LIMIT "
                                      f"{SAMPLE_SIZE}").fetchall()]
        for c in columns
    }  # fmt: skip


def refuse_overcollection(act: Session, source: str, file_name: str, records: int, findings: list[Finding]) -> None:
    """Receiving what no agreement covers is an incident: record it (columns and reasons, never values), refuse."""
    ws = act.workspace
    columns = ", ".join(str(f) for f in findings)
    change = IncidentChange(
        description=(
            f"A {source} delivery ({file_name}, {records:,} records) carried column(s) that no agreement covers: "
            f"{columns}. Intake refused the file before anything from it was stored."
        ),
        containment="Delivery refused at intake; nothing stored. Ask the source to confirm its copy of the "
        "extract is destroyed and to re-extract without these columns.",
        data_affected=[f.column for f in findings],
    )
    with ws.engine.begin() as conn:
        incident = record_incident(conn, f"Over-collection refused at intake ({source})", date.today(), change,
                                   act.user)  # fmt: skip
        act.audit.append(
            "linkhaven", "system", Action.INCIDENT_MANAGE, f"incident:{incident}", "ok",
            {"event": "opened", "reason": "over_collection", "columns": len(findings)}, connection=conn,
        )  # fmt: skip
    act.audit.sync_head()
    act.detail["incident"] = incident
    raise InputError(
        f"{file_name} carries column(s) that no agreement covers: {columns}. The whole file is refused and nothing "
        f"was stored; incident {incident} was opened in the incident register for the privacy officer. Ask the "
        "source to re-extract without them."
    )


def minimise(columns: list[str], rules: SourceRules, file_name: str) -> dict[str, FieldRule]:
    """Map the file's declared columns to their fields (the rest is dropped); refuse a file missing one."""
    declared = rules.by_column()
    present: dict[str, FieldRule] = {}
    for column in columns:
        rule = declared.get(column.strip().lower())
        if rule is not None:
            present[column] = FieldRule(**{**asdict(rule), "column": column})
    # Institutions deliver a fixed layout: every declared column must be there, even if its values may be empty.
    found = {p.name for p in present.values()}
    missing = sorted(r.column for r in rules.fields if r.name not in found)
    if missing:
        raise InputError(
            f"{file_name} lacks the declared column(s) {', '.join(missing)}; "
            "the whole file is refused and nothing was stored."
        )
    return present


def earlier_record_ids(
    ws: Workspace, con: duckdb.DuckDBPyConnection, rules: SourceRules, supersedes: str | None
) -> None:
    """Table `earlier_ids`: the record ids of the source's loaded deliveries (but the one superseded)."""
    con.execute("CREATE TABLE earlier_ids (__earlier_id VARCHAR, __earlier VARCHAR)")
    for delivery in current_deliveries(ws, rules.source):
        if delivery.id == supersedes or not delivery.rows_loaded:
            continue
        ids = ws.zone("identity").read(delivery.identity_table, [rules.record_id])
        con.register("delivery_ids", ids)
        con.execute(f"INSERT INTO earlier_ids SELECT {q(rules.record_id)}, {lit(delivery.id)} FROM delivery_ids")
        con.unregister("delivery_ids")


def refuse_if_all_loaded(con: duckdb.DuckDBPyConnection, file_name: str) -> None:
    row = con.execute(
        "SELECT count(*), count(__earlier), string_agg(DISTINCT __earlier, ', ' ORDER BY __earlier) FROM checked"
    ).fetchone()
    if row is not None and row[0] and row[0] == row[1]:
        first = str(row[2]).split(",")[0]
        raise GateRefused(
            f"Every record of {file_name} was already loaded, in delivery {row[2]} (same source record ids); "
            f"nothing was stored. If this file corrects that delivery, take it in with --supersedes {first}."
        )
