"""Releases in a workspace: create, approve, grant, revoke, read; each a gate that audits what it decides.

A release's data are de-identified but still governed, so they are stored encrypted in the
`releases` zone; the plain, non-personal artefacts (report JSON and HTML, data dictionary,
manifest) sit under `<workspace>/releases/<ID>/`. A release is unusable until the privacy officer
approves it: approval re-checks the stored file against its registered hash, recomputes the risk
from the file itself (R29) and, for a non-public release, requires a disclosure agreement in force
with the recipient (R24). Analysts read only the releases granted to them, each read is recorded,
and a revoked release can no longer be read by anyone. Every refusal is raised inside `ws.act`,
so it is audited with its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, func, insert, select, update

from linkhaven.deid import report as reports
from linkhaven.deid.engine import PERSON_KEY, PSEUDONYM, TIME_COLUMN, DeidResult, deidentify
from linkhaven.deid.panel import (
    ASSESSMENT_COLUMNS,
    CHILD_WELFARE_COLUMNS,
    ENROLMENT_COLUMNS,
    IDENTITY_COLUMNS,
    MAP_COLUMNS,
    PanelInputs,
    TableSource,
    build_panel,
)
from linkhaven.deid.registers import release_grants, release_reads, releases
from linkhaven.deid.risk import Criterion, RiskMeasure, measure_relation
from linkhaven.errors import GateRefused, SpecError, WorkspaceError
from linkhaven.governance.permissions import Action, Role
from linkhaven.spec import ProjectSpec
from linkhaven.spec.releases import ReleaseModel, ReleaseSection
from linkhaven.workspace.workspace import Act, Workspace, now

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


# -- reading the register --------------------------------------------------------------------------------
def _row(conn: Connection, release_id: str) -> dict[str, Any]:
    row = conn.execute(select(releases).where(releases.c.id == release_id)).mappings().first()
    if row is None:
        raise WorkspaceError(f"There is no release {release_id}; see `linkhaven release list`.")
    return dict(row)


def _grants(conn: Connection, release_id: str) -> list[str]:
    query = select(release_grants.c.analyst).where(release_grants.c.release_id == release_id)
    return sorted(r[0] for r in conn.execute(query))


def _info(ws: Workspace, row: dict[str, Any], grants: list[str] | None) -> ReleaseInfo:
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


def _visible(conn: Connection, row: dict[str, Any], user: str, role: str) -> bool:
    """Staff see every release; an analyst sees only the approved, unrevoked releases granted to them."""
    if role != Role.ANALYST:
        return True
    return row["status"] == "approved" and user in _grants(conn, row["id"])


def list_releases(ws: Workspace) -> list[ReleaseInfo]:
    """Every release a deidentifier or privacy officer may see; for an analyst, only their granted ones."""
    with ws.act(Action.RELEASE_LIST, obj="releases") as act, ws.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(releases).order_by(releases.c.id)).mappings()]
        staff = act.role != Role.ANALYST
        found = [
            _info(ws, r, _grants(conn, r["id"]) if staff else None)
            for r in rows
            if _visible(conn, r, act.user, act.role)
        ]
        act.detail["releases"] = len(found)
    return found


def show_release(ws: Workspace, release_id: str) -> ReleaseInfo:
    with ws.act(Action.RELEASE_LIST, obj=f"release:{release_id}") as act, ws.engine.connect() as conn:
        row = _row(conn, release_id)
        if not _visible(conn, row, act.user, act.role):
            raise GateRefused(f"Release {release_id} is not granted to {act.user} (or is not approved, or revoked).")
        return _info(ws, row, _grants(conn, release_id) if act.role != Role.ANALYST else None)


# -- inputs -----------------------------------------------------------------------------------------------
def assessments(spec: ProjectSpec) -> tuple[str, ...]:
    """The assessment codes, in the spec's order: one panel column each."""
    return tuple(spec.code_lists.get("assessment", {}))


def _linkage_map(ws: Workspace, provenance: dict[str, Any]) -> Callable[[], pa.Table]:
    """A loader of the linkage stage's current map; the run it comes from goes into `provenance`."""
    from linkhaven.link import current_map, current_run

    run = current_run(ws)
    if run is None:
        raise WorkspaceError("There is no linkage map yet: run `linkhaven link` (linker role) first.")
    provenance["linkage"] = {"kind": "linkage stage", "run_id": run["id"], "map_version": run["map_version"]}

    def load() -> pa.Table:
        table = current_map(ws, MAP_COLUMNS)
        # The run the map read belongs to (a run may have finished since the check above).
        metadata = table.schema.metadata or {}
        if b"run_id" in metadata and b"map_version" in metadata:
            provenance["linkage"].update(run_id=metadata[b"run_id"].decode(), map_version=int(metadata[b"map_version"]))
        provenance["linkage"]["rows"] = table.num_rows
        return table

    return load


def read_inputs(
    ws: Workspace, spec: ProjectSpec, linkage_map: pa.Table | None = None
) -> tuple[PanelInputs, dict[str, Any]]:
    """Loaders of the current deliveries' content tables, of the two identity values the panel needs,
    and of the map; the provenance says which tables (and which linkage run) they are."""
    from linkhaven.intake import current_deliveries

    names = {"enrolment": "onsis", "assessment": "eqao", "child_welfare": "cpin"}
    columns = {"enrolment": ENROLMENT_COLUMNS, "assessment": ASSESSMENT_COLUMNS,
               "child_welfare": CHILD_WELFARE_COLUMNS}  # fmt: skip
    if "onsis" not in spec.sources:
        raise SpecError("The person-year panel is built on the enrolment source 'onsis', which the spec lacks.")
    provenance: dict[str, Any] = {"kind": "workspace zones", "deliveries": {}, "tables": {}}
    content: dict[str, TableSource | None] = {}
    identity: TableSource | None = None
    for role, source in names.items():
        found = current_deliveries(ws, source) if source in spec.sources else []
        provenance["deliveries"][source] = [d.id for d in found]
        if not found:
            if role == "enrolment":
                raise WorkspaceError("No OnSIS delivery is loaded; the panel has no rows. Take one in first.")
            content[role] = None
            continue
        # Loaders: the panel builder decodes one input at a time, only the columns it reads.
        content[role] = partial(ws.zone("content").read_many, [d.content_table for d in found], columns[role])
        provenance["tables"][source] = [d.content_table for d in found]
        if role == "enrolment":
            identity = partial(ws.zone("identity").read_many, [d.identity_table for d in found], IDENTITY_COLUMNS)
    mapping: TableSource
    if linkage_map is None:
        mapping = _linkage_map(ws, provenance)
    else:
        provenance["linkage"] = {"kind": "supplied by the caller", "rows": linkage_map.num_rows}
        mapping = linkage_map
    enrolment = content["enrolment"]
    assert enrolment is not None and identity is not None
    inputs = PanelInputs(enrolment, identity, mapping, content["assessment"], content["child_welfare"])
    return inputs, provenance


# -- creating ---------------------------------------------------------------------------------------------
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
    spec = ws.spec()
    section = _section(spec, section_name)
    with ws.act(Action.RELEASE_CREATE, obj=f"section:{section_name}") as act:
        act.detail["section"] = section_name
        # Loaders, read inside `build`: each input is decoded, copied into DuckDB and let go of in turn.
        inputs, provenance = read_inputs(ws, spec, linkage_map)

        def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
            stats = build_panel(con, inputs, spec.window.school_years, assessments(spec), str(spec.window.end_date))
            return stats.as_dict()

        return _release(ws, act, spec, section_name, section, build, provenance, progress)


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
    spec = ws.spec()
    section = _section(spec, section_name)
    with ws.act(Action.RELEASE_CREATE, obj=f"section:{section_name}") as act:
        act.detail.update(section=section_name, supplied_panel=True)

        def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
            if isinstance(panel, Path):
                con.execute(f"CREATE TABLE panel AS SELECT * FROM read_parquet('{_sql_path(panel)}')")
            else:
                con.register("panel_in", panel)
                con.execute("CREATE TABLE panel AS SELECT * FROM panel_in")
                con.unregister("panel_in")
            row = con.execute(f"SELECT count(*), count(DISTINCT {PERSON_KEY}) FROM panel").fetchone() or (0, 0)
            return {"rows": int(row[0]), "persons": int(row[1])}

        given = {"kind": "supplied panel (rehearsal, not from the zones)", **(provenance or {})}
        return _release(ws, act, spec, section_name, section, build, given, progress)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _next_id(conn: Connection) -> str:
    count = conn.execute(select(func.count()).select_from(releases)).scalar_one()
    return f"REL{count + 1:04d}"


def pseudonym_key(ws: Workspace, release_id: str) -> bytes:
    """The key of a release's keyed pseudonyms: derived from the releases zone key, never stored."""
    message = f"linkhaven release pseudonyms v1|{release_id}".encode()
    return hmac.new(ws.zone(ZONE).key, message, hashlib.sha256).digest()


def _release(
    ws: Workspace,
    act: Act,
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
            release_id = _next_id(conn)
        act.object = f"release:{release_id}"
        table_name = f"{release_id.lower()}-data"
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{_sql_path(scratch)}'")
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")  # beyond it DuckDB spills to the scratch space
            con.execute("SET preserve_insertion_order = false")
            say("building the person-year panel")
            panel_stats = build(con)
            _check_one_row_per_person_year(con)
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
            after = _measure_stored(ws, table_name, qis, result.policy.criterion, result.policy.l_required)
            if not after.meets_threshold:
                raise GateRefused(
                    f"The stored release's overall risk {after.overall_risk:.4f} is above the threshold "
                    f"{result.policy.threshold} (recomputed from the file); nothing was released."
                )
            folder = _write_artefacts(
                ws, scratch, release_id, name, section, spec, spec_sha, result, after, panel_stats, provenance,
                act.user, written.path, written.sha256, written.rows,
            )  # fmt: skip
        except BaseException:
            zone.remove(table_name)
            raise
        try:
            hashes = {n: reports.sha256_file(folder / n) for n in
                      (reports.REPORT_JSON, reports.DICTIONARY_JSON, reports.MANIFEST)}  # fmt: skip
            act.detail.update(
                release=release_id, rows=after.rows, rows_suppressed=result.chosen.suppressed_rows,
                persons=result.persons, strategy=result.search.strategy,
                overall_risk_after=round(after.overall_risk, 6), meets_threshold=after.meets_threshold,
            )  # fmt: skip
            with act.transaction() as tx:
                ws.register_zone_file(tx, written, act.user)
                tx.execute(insert(releases).values(**_register_row(
                    release_id, name, section, result, after, written.sha256, hashes, spec_sha, act.user)))  # fmt: skip
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            zone.remove(table_name)
            raise
    with ws.engine.connect() as conn:
        return _info(ws, _row(conn, release_id), [])


def _check_one_row_per_person_year(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(f"SELECT count(*) - count(DISTINCT ({PERSON_KEY}, {TIME_COLUMN})) FROM panel").fetchone()
    if row and row[0]:
        raise WorkspaceError(
            f"The panel has {row[0]} rows repeating a person in a school year; the risk measure counts persons "
            "by rows, so nothing can be released from it."
        )


def _check_no_identifiers(schema: pa.Schema, spec: ProjectSpec) -> None:
    """Defence in depth: no column named like a direct identifier, a record code or the person key."""
    forbidden = set(reports.direct_identifiers(spec))
    found = sorted(set(schema.names) & forbidden)
    if found:
        raise GateRefused(f"The release would carry direct identifier column(s) {', '.join(found)}; refused.")


def _measure_stored(
    ws: Workspace, table_name: str, qis: list[str], criterion: Criterion, l_required: dict[str, int]
) -> RiskMeasure:
    """R29: the risk of the release as stored, read back from the encrypted zone file."""
    stored = ws.zone(ZONE).read(table_name)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        con.register("released", stored)
        row = con.execute(f"SELECT count(*) - count(DISTINCT ({PSEUDONYM}, {TIME_COLUMN})) FROM released").fetchone()
        if row and row[0]:
            raise GateRefused("The stored release repeats a person in a school year; refused.")
        return measure_relation(con, "released", qis, criterion, l_required)
    finally:
        con.close()


def _write_artefacts(
    ws: Workspace,
    scratch: Path,
    release_id: str,
    name: str,
    section: ReleaseSection,
    spec: ProjectSpec,
    spec_sha: str,
    result: DeidResult,
    after: RiskMeasure,
    panel_stats: dict[str, int],
    provenance: dict[str, Any],
    user: str,
    data_path: Path,
    data_sha256: str,
    rows: int,
) -> Path:
    staging = scratch / "artefacts"
    staging.mkdir()
    created = now()
    report = reports.build_report(release_id, name, section, spec, spec_sha, result, after, panel_stats, provenance,
                                  created, user)  # fmt: skip
    dictionary = reports.build_dictionary(release_id, section, spec, result.table.schema, result)
    outputs: dict[str, Any] = {
        "data": {"zone": ZONE, "table": f"{release_id.lower()}-data", "path": str(data_path),
                 "sha256_encrypted": data_sha256, "rows": rows},
    }  # fmt: skip
    outputs[reports.REPORT_JSON] = reports.write_json(staging / reports.REPORT_JSON, report)
    outputs[reports.DICTIONARY_JSON] = reports.write_json(staging / reports.DICTIONARY_JSON, dictionary)
    (staging / reports.DICTIONARY_MD).write_text(reports.dictionary_markdown(dictionary), encoding="utf-8")
    outputs[reports.DICTIONARY_MD] = reports.sha256_file(staging / reports.DICTIONARY_MD)
    (staging / reports.REPORT_HTML).write_text(reports.render_html(report, dictionary), encoding="utf-8")
    outputs[reports.REPORT_HTML] = reports.sha256_file(staging / reports.REPORT_HTML)
    manifest = {
        "release_id": release_id,
        "section": name,
        "section_sha256": reports.section_sha256(section),
        "spec_sha256": spec_sha,
        "created_at": created,
        "created_by": user,
        "software": reports.software(),
        "inputs": provenance,
        "counts": {"panel": panel_stats, "rows_released": after.rows,
                   "rows_suppressed": result.chosen.suppressed_rows, "persons_released": result.persons},
        "outputs": outputs,
        "timings_seconds": result.timings,
    }  # fmt: skip
    reports.write_json(staging / reports.MANIFEST, manifest)
    folder = ws.root / ARTEFACTS_DIR / release_id
    if folder.exists():  # left by a run that died before registering this id: not a release
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), folder)
    return folder


def _register_row(
    release_id: str,
    name: str,
    section: ReleaseSection,
    result: DeidResult,
    after: RiskMeasure,
    data_sha256: str,
    hashes: dict[str, str],
    spec_sha: str,
    user: str,
) -> dict[str, Any]:
    policy = result.policy
    return {
        "id": release_id,
        "section": name,
        "title": section.title,
        "recipient": section.recipient,
        "release_model": str(section.release_model),
        "status": "created",
        "pseudonyms": section.pseudonyms,
        "data_zone": ZONE,
        "data_table": f"{release_id.lower()}-data",
        "data_sha256": data_sha256,
        "report_sha256": hashes[reports.REPORT_JSON],
        "dictionary_sha256": hashes[reports.DICTIONARY_JSON],
        "manifest_sha256": hashes[reports.MANIFEST],
        "quasi_identifiers": json.dumps([x.column for x in section.quasi_identifiers]),
        "sensitive": json.dumps(list(section.sensitive)),
        "columns": json.dumps(list(section.columns)),
        "rows_in": result.chosen.rows,
        "rows_released": after.rows,
        "rows_suppressed": result.chosen.suppressed_rows,
        "persons": result.persons,
        "classes": after.classes,
        "smallest_class": after.smallest_class,
        "measure": policy.criterion.measure,
        "threshold": policy.threshold,
        "context_risk": policy.context.context_risk,
        "data_risk_before": result.risk_before.data_risk,
        "data_risk_after": after.data_risk,
        "overall_risk_before": result.risk_before.overall_risk,
        "overall_risk_after": after.overall_risk,
        "spec_sha256": spec_sha,
        "created_at": now(),
        "created_by": user,
    }


# -- the gates ----------------------------------------------------------------------------------------------
def _criterion(report: dict[str, Any]) -> Criterion:
    threshold = report["threshold"]
    return Criterion(
        measure=threshold["measure"],
        threshold=threshold["risk_threshold"],
        context_risk=report["context"]["context_risk"],
        data_risk_target=threshold["data_risk_target"],
        row_cap=threshold["strict_average_row_cap"],
        min_class_size=threshold["smallest_class_allowed"],
    )


def _verified_report(ws: Workspace, conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """The release's report, after checking every artefact and the data file against their registered hashes."""
    folder = ws.root / ARTEFACTS_DIR / row["id"]
    for file, registered in ((reports.REPORT_JSON, row["report_sha256"]),
                             (reports.DICTIONARY_JSON, row["dictionary_sha256"]),
                             (reports.MANIFEST, row["manifest_sha256"])):  # fmt: skip
        path = folder / file
        if not path.exists() or reports.sha256_file(path) != registered:
            raise GateRefused(f"Release {row['id']}: {file} is missing or altered since it was created; refused.")
    path = ws.zone(row["data_zone"])._file(row["data_table"])
    if not path.exists() or reports.sha256_file(path) != row["data_sha256"]:
        raise GateRefused(f"Release {row['id']}: its data file is missing or altered since it was created; refused.")
    report: dict[str, Any] = json.loads((folder / reports.REPORT_JSON).read_text(encoding="utf-8"))
    return report


def _disclosure_agreement(
    conn: Connection, spec: ProjectSpec, recipient: str, data_class: str, day: date
) -> str | None:
    """The id of a disclosure agreement in force on `day` that names `recipient` and covers `data_class`."""
    from linkhaven.intake import list_agreements

    names = {recipient.casefold()}
    if recipient in spec.recipients:
        names.add(spec.recipients[recipient].name.casefold())
    for agreement in list_agreements(conn):
        if (
            agreement.kind == "disclosure"
            and agreement.valid_from <= day.isoformat() <= agreement.valid_to
            and data_class in agreement.data_classes
            and names & {party.casefold() for party in agreement.parties}
        ):
            return agreement.id
    return None


def approve_release(ws: Workspace, release_id: str, on: date | None = None) -> ReleaseInfo:
    """Privacy officer: check integrity, recompute the risk from the file, check the agreement, approve."""
    day = on or date.today()
    spec = ws.spec()
    with ws.act(Action.RELEASE_APPROVE, obj=f"release:{release_id}") as act:
        with ws.engine.connect() as conn:
            row = _row(conn, release_id)
            if row["status"] != "created":
                raise GateRefused(f"Release {release_id} is {row['status']}; only a created release can be approved.")
            report = _verified_report(ws, conn, row)
            agreement = None
            if row["release_model"] != ReleaseModel.PUBLIC:
                agreement = _disclosure_agreement(conn, spec, row["recipient"], "deidentified", day)
                if agreement is None:
                    raise GateRefused(
                        f"No disclosure agreement in force on {day.isoformat()} names recipient '{row['recipient']}' "
                        "and covers de-identified data; a non-public release needs one (R24). Register it with "
                        "`linkhaven agreement add --kind disclosure --class deidentified --party "
                        f"{row['recipient']} ...`."
                    )
        l_required = {str(k): int(v) for k, v in report["threshold"]["l_diversity"].items()}
        qis = [str(c) for c in report["quasi_identifier_columns"]]
        after = _measure_stored(ws, row["data_table"], qis, _criterion(report), l_required)
        act.detail.update(overall_risk=round(after.overall_risk, 6), meets_threshold=after.meets_threshold)
        if not after.meets_threshold:
            raise GateRefused(
                f"Release {release_id}: the risk recomputed from the stored file ({after.overall_risk:.4f}) is above "
                f"the threshold {report['threshold']['risk_threshold']}; refused."
            )
        act.detail["agreement"] = agreement or "-"
        with act.transaction() as tx:
            tx.execute(
                update(releases).where(releases.c.id == release_id)
                .values(status="approved", approved_at=now(), approved_by=act.user, agreement_id=agreement)
            )  # fmt: skip
    return _show(ws, release_id)


def _show(ws: Workspace, release_id: str) -> ReleaseInfo:
    with ws.engine.connect() as conn:
        return _info(ws, _row(conn, release_id), _grants(conn, release_id))


def grant_release(ws: Workspace, release_id: str, analyst: str) -> ReleaseInfo:
    """Privacy officer: let one analyst read one approved release."""
    with ws.act(Action.RELEASE_GRANT, obj=f"release:{release_id}") as act:
        act.detail["analyst"] = analyst
        with ws.engine.connect() as conn:
            row = _row(conn, release_id)
            if row["status"] != "approved":
                raise GateRefused(f"Release {release_id} is {row['status']}; only an approved release can be granted.")
            if ws.role_of(analyst) != Role.ANALYST:
                raise GateRefused(
                    f"User '{analyst}' is not a registered analyst; releases are granted to analysts only."
                )
            if analyst in _grants(conn, release_id):
                raise WorkspaceError(f"{analyst} already has a grant on release {release_id}.")
        with act.transaction() as tx:
            tx.execute(insert(release_grants).values(release_id=release_id, analyst=analyst, granted_at=now(),
                                                     granted_by=act.user))  # fmt: skip
    return _show(ws, release_id)


def revoke_release(ws: Workspace, release_id: str, reason: str) -> ReleaseInfo:
    """Privacy officer: nobody may read the release any more (its file stays until retention)."""
    with ws.act(Action.RELEASE_REVOKE, obj=f"release:{release_id}") as act:
        with ws.engine.connect() as conn:
            row = _row(conn, release_id)
        if row["status"] == "revoked":
            raise GateRefused(f"Release {release_id} is already revoked.")
        act.detail["previous_status"] = row["status"]
        with act.transaction() as tx:
            tx.execute(
                update(releases).where(releases.c.id == release_id)
                .values(status="revoked", revoked_at=now(), revoked_by=act.user, revoke_reason=reason)
            )  # fmt: skip
    return _show(ws, release_id)


def _readable(ws: Workspace, release_id: str, user: str, role: str) -> dict[str, Any]:
    """The release row if `user` may read it now, else GateRefused saying why (the caller's act audits it)."""
    with ws.engine.connect() as conn:
        row = _row(conn, release_id)
        if row["status"] == "revoked":
            raise GateRefused(f"Release {release_id} was revoked on {str(row['revoked_at'])[:10]}; it cannot be read.")
        if row["status"] != "approved":
            raise GateRefused(f"Release {release_id} is not approved by the privacy officer; it cannot be read yet.")
        if role == Role.ANALYST and user not in _grants(conn, release_id):
            raise GateRefused(f"Release {release_id} is not granted to {user}; ask the privacy officer for a grant.")
        if role not in (Role.ANALYST, Role.DEIDENTIFIER):
            raise GateRefused(f"Role {role} does not read release data.")
        _verified_report(ws, conn, row)
    return row


def read_release(ws: Workspace, release_id: str, out: Path) -> ReadReceipt:
    """Analyst with a grant: write a plain Parquet copy of an approved, unrevoked release to `out` (audited)."""
    with ws.act(Action.RELEASE_READ, obj=f"release:{release_id}") as act:
        row = _readable(ws, release_id, act.user, act.role)
        if out.exists():
            raise WorkspaceError(f"{out} already exists; name a new file.")
        if ws.root.resolve() in out.resolve().parents:
            raise WorkspaceError("Write the copy outside the workspace: the workspace holds only governed files.")
        table = ws.zone(row["data_zone"]).read(row["data_table"])
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, compression="zstd")
        digest = reports.sha256_file(out)
        act.detail.update(rows=table.num_rows, sha256=digest)
        with act.transaction() as tx:
            tx.execute(insert(release_reads).values(release_id=release_id, reader=act.user, role=str(act.role),
                                                    purpose="analysis", rows=table.num_rows, sha256=digest,
                                                    read_at=now()))  # fmt: skip
    return ReadReceipt(release_id, str(out), int(table.num_rows), digest)


def open_release(ws: Workspace, release_id: str, act: Act | None = None) -> ReleaseData:
    """An approved, unrevoked release's data, report and column roles, for a permitted role.

    Publication calls it inside its own `ws.act(Action.PUBLISH_RUN)` and passes that `act` (the
    deidentifier publishes); without one, the read is audited as `release.read` (an analyst with a
    grant). Either way the read is recorded in the release reads register.
    """
    if act is None:
        with ws.act(Action.RELEASE_READ, obj=f"release:{release_id}") as own:
            return _open(ws, release_id, own, "analysis")
    return _open(ws, release_id, act, "publication")


def _open(ws: Workspace, release_id: str, act: Act, purpose: str) -> ReleaseData:
    row = _readable(ws, release_id, act.user, act.role)
    table = ws.zone(row["data_zone"]).read(row["data_table"])
    folder = ws.root / ARTEFACTS_DIR / release_id
    report = json.loads((folder / reports.REPORT_JSON).read_text(encoding="utf-8"))
    act.detail.update(release=release_id, rows=table.num_rows)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(release_reads).values(
                release_id=release_id,
                reader=act.user,
                role=str(act.role),
                purpose=purpose,
                rows=table.num_rows,
                sha256=None,
                read_at=now(),
            )
        )
    with ws.engine.connect() as conn:
        info = _info(ws, _row(conn, release_id), None)
    return ReleaseData(info, table, report)
