"""Taking in one delivery: gate, read, minimise, check, split, store, register. All or nothing.

The order matters. Gates and file-level checks run before anything is stored. Undeclared columns
are dropped before any table is written (R11). Zone tables are written under new names and only
become part of the workspace when the register transaction commits; if the process dies before
that, the next command removes the unregistered files, so the workspace is as it was.

Memory stays bounded at provincial scale: DuckDB holds the delivery once, spills beyond
`DUCKDB_MEMORY` to the writer's private scratch directory, and writes each zone table as Parquet
there, which is then sealed into its zone in 16 MiB segments. The scratch directory (mode 0700,
inside the workspace) is removed when intake ends, killed runs included (by the next command).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from sqlalchemy import func, select, update

from linkhaven.errors import WorkspaceError
from linkhaven.governance.assessments import check_assessments
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, open_session
from linkhaven.intake.gates import check_gates
from linkhaven.intake.overcollection import find_overcollection
from linkhaven.intake.reader import FileFacts, inspect_file, read_delivery
from linkhaven.intake.rules import FieldRule, SourceRules, rules_for
from linkhaven.intake.screening import (
    check_not_duplicate,
    check_supersedable,
    column_samples,
    earlier_record_ids,
    minimise,
    refuse_if_all_loaded,
    refuse_overcollection,
    unagreed_columns,
)
from linkhaven.schema import deliveries
from linkhaven.sqlquote import lit, q
from linkhaven.workspace.workspace import Workspace, now

Progress = Callable[[str], None]

IDENTITY_CLASS = "personal"
DUCKDB_MEMORY = "3GB"


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: str
    source: str
    file_name: str
    file_sha256: str
    encoding: str
    notice_version: int
    agreement_id: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    values_set_null: dict[str, int]
    columns_dropped: list[str]
    supersedes: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def intake_file(
    ws: Workspace,
    source: str,
    path: Path,
    supersedes: str | None = None,
    on: date | None = None,
    progress: Progress | None = None,
) -> IntakeResult:
    """Take in a delivery of `source` with the checks and file format the workspace's spec declares."""
    with open_session(ws, Action.INTAKE_RUN, f"source:{source}") as session:
        rules = rules_for(session.spec, source)
        fmt = session.spec.source(source).format
        encoding = str(fmt.encoding)
        return _take_in(session, rules, path, fmt.delimiter, fmt.quote_char, encoding, supersedes, on, progress)


def take_in(
    ws: Workspace,
    rules: SourceRules,
    path: Path,
    delimiter: str = ",",
    quote: str = '"',
    declared_encoding: str = "detect",
    supersedes: str | None = None,
    on: date | None = None,
    progress: Progress | None = None,
) -> IntakeResult:
    """Take in `path` as a delivery of `rules.source` under rules given by the caller (not the spec's)."""
    with open_session(ws, Action.INTAKE_RUN, f"source:{rules.source}") as session:
        return _take_in(session, rules, path, delimiter, quote, declared_encoding, supersedes, on, progress)


def _take_in(
    act: Session,
    rules: SourceRules,
    path: Path,
    delimiter: str,
    quote: str,
    declared_encoding: str,
    supersedes: str | None,
    on: date | None,
    progress: Progress | None,
) -> IntakeResult:
    """Take in `path` as a delivery of `rules.source`; returns the register entry's figures."""
    ws = act.workspace
    say = progress or (lambda _step: None)
    today = on or date.today()
    act.detail["file"] = path.name
    data_classes = {f.data_class for f in rules.fields}
    with ws.engine.connect() as conn:
        notice, agreement = check_gates(conn, rules.source, data_classes, today)
        check_assessments(conn, list(rules.required_assessments), today)
    say("hashing and checking encoding")
    facts = inspect_file(path, declared_encoding)
    with ws.engine.connect() as conn:
        check_not_duplicate(conn, facts.sha256, path.name)
        if supersedes is not None:
            check_supersedable(conn, supersedes, rules.source)
    with ws.exclusive(on_wait=lambda: say("waiting for another intake or writer to finish")) as scratch:
        with ws.engine.connect() as conn:  # again: an identical intake may have finished while we waited
            check_not_duplicate(conn, facts.sha256, path.name)
        return _load(act, rules, path, facts, delimiter, quote, notice.version, agreement.id, supersedes, say, scratch)


def _load(
    act: Session,
    rules: SourceRules,
    path: Path,
    facts: FileFacts,
    delimiter: str,
    quote: str,
    notice_version: int,
    agreement_id: str,
    supersedes: str | None,
    say: Progress,
    scratch: Path,
) -> IntakeResult:
    con = duckdb.connect()
    try:
        # Bounded memory: DuckDB spills to the private scratch directory beyond this.
        con.execute(f"SET temp_directory = {lit(str(scratch))}")
        con.execute(f"SET memory_limit = {lit(DUCKDB_MEMORY)}")
        con.execute("SET preserve_insertion_order = true")
        say("reading and checking every record")
        raw = read_delivery(con, path, facts, delimiter, quote, scratch)
        if raw.canonical_sha256 is not None:
            with act.workspace.engine.connect() as conn:
                check_not_duplicate(conn, raw.canonical_sha256, path.name)
        forbidden, dropped = unagreed_columns(raw.columns, rules)
        findings = find_overcollection(forbidden, dropped, column_samples(con, dropped))
        if findings:
            refuse_overcollection(act, rules.source, path.name, raw.rows_read, findings)
        present = minimise(raw.columns, rules, path.name)
        earlier_record_ids(act.workspace, con, rules, supersedes)
        say("checking rows")
        checked = _check_rows(con, rules, present)
        refuse_if_all_loaded(con, path.name)
        say("splitting, encrypting and storing")
        return _store(
            act, con, rules, present, checked, raw.rows_read, dropped, facts, raw.canonical_sha256,
            notice_version, agreement_id, path.name, supersedes, scratch,
        )  # fmt: skip
    finally:
        con.close()


@dataclass(frozen=True)
class CheckedColumns:
    """How `checked` flags its rows: which flag drops which field's value (set_null), by field name."""

    nulled: dict[str, list[int]]


def _check_rows(
    con: duckdb.DuckDBPyConnection, rules: SourceRules, present: dict[str, FieldRule]
) -> CheckedColumns:
    """Create `checked`: every parsed row with its first failure (reason, field), all failures, and a
    random record code for the rows that pass, in one pass over the delivery."""
    fields = list(present.values())
    record_id = next(f for f in fields if f.name == rules.record_id)
    # A record id loaded from an earlier delivery comes first: the row is that delivery's, whatever else is wrong.
    failures: list[tuple[str, str, str]] = [("already_loaded", record_id.name, "__earlier IS NOT NULL")]
    failures += [(w.reason, w.field, w.predicate) for w in rules.windows]
    nulled: list[tuple[str, str, str]] = []
    for rule in fields:
        for reason, predicate in rule.failures(rules.check_digits):
            if rule.invalid == "set_null" and not rule.required and reason != "missing_value":
                nulled.append((reason, rule.name, predicate))
            else:
                failures.append((reason, rule.name, predicate))
    all_columns = ", ".join(q(c) for c in present)
    failures.append(("duplicate_row", "-", f"row_number() OVER (PARTITION BY {all_columns} ORDER BY __line) > 1"))
    failures.append(
        ("duplicate_record_id", record_id.name, f"row_number() OVER (PARTITION BY {record_id.raw} ORDER BY __line) > 1")
    )
    flags = "".join(f",\n({pred}) IS TRUE AS __f{i}" for i, (_, _, pred) in enumerate(failures))
    null_flags = "".join(f",\n({pred}) IS TRUE AS __n{i}" for i, (_, _, pred) in enumerate(nulled))
    first_reason = " ".join(f"WHEN __f{i} THEN {lit(r)}" for i, (r, _, _) in enumerate(failures))
    first_field = " ".join(f"WHEN __f{i} THEN {lit(n)}" for i, (_, n, _) in enumerate(failures))
    # all_reasons names the earlier delivery of an already loaded record, for the steward.
    labels = [lit(f"{r}:{n}") for r, n, _ in failures]
    labels[0] += " || '@' || __earlier"
    every = ", ".join(f"CASE WHEN __f{i} THEN {label} END" for i, label in enumerate(labels))
    earlier = "(SELECT __earlier_id, min(__earlier) AS __earlier FROM earlier_ids GROUP BY ALL)"
    con.execute(
        f"""CREATE TABLE checked AS
        SELECT *, CASE WHEN __reason IS NULL THEN gen_random_uuid()::VARCHAR END AS record_code FROM (
            SELECT *, CASE {first_reason} END AS __reason, CASE {first_field} END AS __field,
            concat_ws(';', {every}) AS __all_reasons FROM (SELECT *{flags}{null_flags} FROM (
                SELECT * EXCLUDE (__earlier_id) FROM raw LEFT JOIN {earlier} ON __earlier_id = {record_id.typed()}
            ))
        )"""
    )
    # A discarded value is counted by field and reason (it never reaches a zone), only on loaded rows.
    counts = ", ".join(f"count(*) FILTER (WHERE __n{i} AND __reason IS NULL)" for i in range(len(nulled)))
    con.execute("CREATE TABLE values_set_null (field VARCHAR, reason VARCHAR, n BIGINT)")
    if nulled:
        row = con.execute(f"SELECT {counts} FROM checked").fetchone() or ()
        for (reason, name, _), n in zip(nulled, row, strict=True):
            con.execute("INSERT INTO values_set_null VALUES (?, ?, ?)", [name, reason, n])
    by_field: dict[str, list[int]] = {}
    for i, (_, name, _) in enumerate(nulled):
        by_field.setdefault(name, []).append(i)
    return CheckedColumns(by_field)


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> int:
    """Write a query's result as Parquet in the scratch space; DuckDB streams it, Python never holds it."""
    con.execute(f"COPY ({sql}) TO {lit(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    return int(pq.ParquetFile(target).metadata.num_rows)


def _store(
    act: Session,
    con: duckdb.DuckDBPyConnection,
    rules: SourceRules,
    present: dict[str, FieldRule],
    checked: CheckedColumns,
    rows_read: int,
    dropped: list[str],
    facts: FileFacts,
    content_sha256: str | None,
    notice_version: int,
    agreement_id: str,
    file_name: str,
    supersedes: str | None,
    scratch: Path,
) -> IntakeResult:
    ws, user = act.workspace, act.user
    identity_cols = {c: f for c, f in present.items() if f.data_class == IDENTITY_CLASS}
    content_cols = {c: f for c, f in present.items() if f.data_class != IDENTITY_CLASS}

    def typed(cols: dict[str, FieldRule]) -> str:
        parts = []
        for f in cols.values():
            flags = checked.nulled.get(f.name)
            value = (
                f.typed()
                if not flags
                else f"CASE WHEN {' OR '.join(f'__n{i}' for i in flags)} THEN NULL ELSE {f.typed()} END"
            )
            parts.append(f"{value} AS {q(f.name)}")
        return ", ".join(parts)

    def raw_text(cols: dict[str, FieldRule]) -> str:
        return ", ".join(f"{q(c)} AS {q(f.name)}" for c, f in cols.items())

    loaded = "FROM checked WHERE __reason IS NULL"
    identity_rows = _copy(con, f"SELECT record_code, {typed(identity_cols)} {loaded}", scratch / "identity.parquet")
    content_rows = _copy(con, f"SELECT record_code, {typed(content_cols)} {loaded}", scratch / "content.parquet")
    quarantined = _copy(
        con,
        f"""SELECT __line AS line, __reason AS reason, __field AS field, __all_reasons AS all_reasons,
        {raw_text(content_cols)} FROM checked WHERE __reason IS NOT NULL
        UNION ALL BY NAME
        SELECT line, error_type AS reason, coalesce(column_name, '-') AS field,
        error_type AS all_reasons FROM raw_rejects ORDER BY line""",
        scratch / "quarantine-content.parquet",
    )
    _copy(
        con,
        f"""SELECT __line AS line, {raw_text(identity_cols)}, NULL::VARCHAR AS raw_line FROM checked
        WHERE __reason IS NOT NULL
        UNION ALL BY NAME SELECT line, csv_line AS raw_line FROM raw_rejects ORDER BY line""",
        scratch / "quarantine-identity.parquet",
    )
    by_reason = {
        str(reason): int(n)
        for reason, n in con.execute(
            f"SELECT reason, count(*) FROM read_parquet({lit(str(scratch / 'quarantine-content.parquet'))}) "
            "GROUP BY reason ORDER BY reason"
        ).fetchall()
    }
    if identity_rows != content_rows or identity_rows + quarantined != rows_read:
        raise WorkspaceError("Internal accounting error: rows read do not equal rows loaded plus quarantined.")
    set_null = {
        f"{field}:{reason}": int(n)
        for field, reason, n in con.execute(
            "SELECT field, reason, sum(n) FROM values_set_null GROUP BY ALL HAVING sum(n) > 0 ORDER BY ALL"
        ).fetchall()
    }

    with ws.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    delivery_id = f"D{count + 1:04d}"
    stem = f"{delivery_id.lower()}-{rules.source}"
    written = [
        ws.zone("identity").write_parquet_file(f"{stem}-identity", scratch / "identity.parquet", identity_rows),
        ws.zone("content").write_parquet_file(f"{stem}-content", scratch / "content.parquet", content_rows),
        ws.zone("content").write_parquet_file(
            f"{stem}-quarantine", scratch / "quarantine-content.parquet", quarantined
        ),
        ws.zone("identity").write_parquet_file(
            f"{stem}-quarantine", scratch / "quarantine-identity.parquet", quarantined
        ),
    ]
    result = IntakeResult(
        delivery_id=delivery_id,
        source=rules.source,
        file_name=file_name,
        file_sha256=facts.sha256,
        encoding=facts.encoding,
        notice_version=notice_version,
        agreement_id=agreement_id,
        rows_read=rows_read,
        rows_loaded=identity_rows,
        rows_quarantined=quarantined,
        quarantined_by_reason=by_reason,
        values_set_null=set_null,
        columns_dropped=dropped,
        supersedes=supersedes,
    )
    act.object = f"delivery:{delivery_id}"
    act.detail.update(
        rows_read=rows_read,
        rows_loaded=identity_rows,
        rows_quarantined=quarantined,
        columns_dropped=len(dropped),
        delivery=delivery_id,
    )
    with act.transaction() as tx:
        for item in written:
            ws.register_zone_file(tx, item, user)
        tx.execute(
            deliveries.insert().values(
                id=delivery_id,
                source=rules.source,
                file_name=file_name,
                file_sha256=result.file_sha256,
                content_sha256=content_sha256 or result.file_sha256,
                file_bytes=facts.size,
                encoding=result.encoding,
                notice_version=notice_version,
                agreement_id=agreement_id,
                rows_read=rows_read,
                rows_loaded=result.rows_loaded,
                rows_quarantined=quarantined,
                quarantined_by_reason=json.dumps(result.quarantined_by_reason),
                values_set_null=json.dumps(set_null),
                columns_dropped=json.dumps(dropped),
                identity_table=f"{stem}-identity",
                content_table=f"{stem}-content",
                quarantine_table=f"{stem}-quarantine",
                status="loaded",
                supersedes=supersedes,
                superseded_by=None,
                received_at=now(),
                received_by=user,
                spec_sha256=ws.spec_sha256,
            )
        )
        if supersedes is not None:
            tx.execute(
                update(deliveries)
                .where(deliveries.c.id == supersedes)
                .values(status="superseded", superseded_by=delivery_id)
            )
    return result
