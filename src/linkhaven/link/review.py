"""Clerical review: list the pairs between the thresholds, show one side by side, decide it.

Only the linker role may do any of this: each function opens a `link.review` governance session,
which checks the role and audits the outcome. Listing shows record codes and probabilities, showing
reads identity values from the identity zone, and deciding changes the map. The store keeps the
decision and a reason *code* from a fixed list (a free-text note could carry a name); the audit
event carries the pair id, the decision, the reason code and the new map
version. A `match` writes a new map version in which the left record's person joins the right
record's person (keeping the right person's key); a `non_match` changes nothing in the map, and
both are carried into later runs, so no pair is ever decided twice.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import insert, select, update

from linkhaven.errors import WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, open_session
from linkhaven.link.config import LinkConfig
from linkhaven.link.graph import apply_decisions
from linkhaven.link.service import current_run
from linkhaven.link.standardise import equivalence_groups, fold, nysiis
from linkhaven.link.types import MAP_SCHEMA, Decision
from linkhaven.schema import link_review_pairs, linkage_map_versions, linkage_runs
from linkhaven.workspace.workspace import Workspace, now

MATCH_REASONS = {
    "same_person_name_variant": "same person: nickname, spelling, accent or compound-name variant",
    "same_person_surname_change": "same person: family name changed (adoption, custody, marriage of parents)",
    "same_person_birth_date_error": "same person: birth date recorded wrongly in one source",
    "same_person_moved": "same person: identifiers agree, address changed",
    "same_person_other": "same person: other evidence (say what in the unit's case notes, not here)",
}
NON_MATCH_REASONS = {
    "different_person": "different person",
    "twin_or_sibling": "different person: a twin or sibling",
    "conflicting_birth_date": "different person: birth dates clearly disagree",
    "conflicting_names": "different person: names clearly disagree",
    "insufficient_evidence": "not enough evidence to link",
}
DECISIONS = {"match": MATCH_REASONS, "non_match": NON_MATCH_REASONS}
FIXED = ("source", "source_record_id", "source_person_id")


def _pair(ws: Workspace, pair_id: int) -> dict[str, Any]:
    with ws.engine.connect() as conn:
        row = conn.execute(select(link_review_pairs).where(link_review_pairs.c.id == pair_id)).mappings().first()
    if row is None:
        raise WorkspaceError(f"There is no review pair {pair_id}; see `linkhaven link review list`.")
    return dict(row)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "run_id", "kind", "match_probability", "match_weight", "queue_reason", "status", "decision",
            "reason", "decided_by", "decided_at", "map_version", "carried_from")  # fmt: skip
    out = {k: row[k] for k in keys}
    for k in ("match_probability", "match_weight"):
        if out[k] is not None:
            out[k] = round(float(out[k]), 6)
    return out


def list_pairs(
    ws: Workspace, status: str | None = "pending", run_id: str | None = None, user: str | None = None
) -> list[dict[str, Any]]:
    """Review pairs of the current run (or `run_id`), no identifiers: id, kind, probability, status."""
    with open_session(ws, Action.LINK_REVIEW, "linkage", user) as session:
        run = current_run(ws)
        chosen = run_id or (run["id"] if run else None)
        if chosen is None:
            return []
        query = select(link_review_pairs).where(link_review_pairs.c.run_id == chosen)
        if status is not None:
            query = query.where(link_review_pairs.c.status == status)
        query = query.order_by(link_review_pairs.c.match_probability.desc().nulls_last(), link_review_pairs.c.id)
        with ws.engine.connect() as conn:
            rows = [_public(dict(r)) for r in conn.execute(query).mappings()]
        session.object = f"linkage:{chosen}"
        session.detail.update(pairs=len(rows), status=status or "all")
    return rows


def _verdict(kind: str, left: Any, right: Any) -> str:
    """A reviewer's hint per field of a `kind`: exact, same after standardisation, equivalent, or differs."""
    if left is None or right is None:
        return "missing"
    if left == right:
        return "exact"
    if kind in {"given_name", "family_name", "middle_name"}:
        a, b = fold(str(left)), fold(str(right))
        if a.replace(" ", "") == b.replace(" ", ""):
            return "same after standardisation"
        groups = equivalence_groups()
        if kind == "given_name" and set(groups.get(a, ())) & set(groups.get(b, ())):
            return "equivalent (short or other-language form)"
        ta, tb = set(a.split()), set(b.split())
        if ta and tb and (ta <= tb or tb <= ta):
            return "one is part of the other"
        if nysiis(a.replace(" ", "")) == nysiis(b.replace(" ", "")):
            return "same sound"
    if kind == "postcode" and str(left)[:3] == str(right)[:3]:
        return "same first three characters"
    if kind == "date":
        l_, r_ = str(left), str(right)
        if l_[:4] == r_[:4] and l_[5:7] == r_[8:10] and l_[8:10] == r_[5:7]:
            return "day and month exchanged"
        if sum(a != b for a, b in zip(l_, r_, strict=False)) == 1:
            return "one digit differs"
    return "differs"


def show_pair(ws: Workspace, pair_id: int, user: str | None = None) -> dict[str, Any]:
    """The two records of a pair side by side, with per-field hints and their persons' sizes."""
    with open_session(ws, Action.LINK_REVIEW, f"review:{pair_id}", user) as session:
        return _show(ws, session, pair_id)


def _show(ws: Workspace, session: Session, pair_id: int) -> dict[str, Any]:
    pair = _pair(ws, pair_id)
    extract = ws.zone("identity").read(f"{pair['run_id'].lower()}-review")
    con = duckdb.connect()
    try:
        con.register("extract", extract)
        rows = {
            r["record_code"]: r
            for r in con.execute(
                "SELECT * FROM extract WHERE record_code IN (?, ?)", [pair["left_code"], pair["right_code"]]
            )
            .to_arrow_table()
            .to_pylist()
        }
    finally:
        con.close()
    left, right = rows.get(pair["left_code"]), rows.get(pair["right_code"])
    if left is None or right is None:
        raise WorkspaceError(f"The identity values of pair {pair_id} are not in its run's review extract.")
    kinds = {name: str(spec.kind) for name, spec in LinkConfig.from_spec(session.spec).linkage.fields.items()}
    fields = []
    for name in (*FIXED, *kinds):
        a, b = left.get(name), right.get(name)
        fields.append({
            "field": name,
            "left": None if a is None else str(a),
            "right": None if b is None else str(b),
            "comparison": "-" if name in FIXED else _verdict(kinds[name], a, b),
        })  # fmt: skip
    session.detail.update(pair=pair_id, kind=pair["kind"])
    return {
        **_public(pair),
        "fields": fields,
        "persons": _person_sizes(ws, pair),
        "decisions": {k: sorted(v) for k, v in DECISIONS.items()},
    }


def _person_sizes(ws: Workspace, pair: dict[str, Any]) -> dict[str, Any]:
    """How many records of each source the left and right records' persons hold in the current map."""
    run = current_run(ws)
    if run is None:
        return {}
    linkage_map = ws.zone("linkage").read(run["map_table"])
    con = duckdb.connect()
    try:
        con.register("m", linkage_map.select(["record_code", "source", "person_key"]))
        out: dict[str, Any] = {}
        for side in ("left", "right"):
            rows = con.execute(
                """SELECT source, count(*) FROM m WHERE person_key = (SELECT person_key FROM m WHERE record_code = ?)
                GROUP BY source ORDER BY source""",
                [pair[f"{side}_code"]],
            ).fetchall()
            out[side] = {source: int(n) for source, n in rows}
        same = con.execute(
            "SELECT count(DISTINCT person_key) = 1 FROM m WHERE record_code IN (?, ?)",
            [pair["left_code"], pair["right_code"]],
        ).fetchone()
        out["same_person_now"] = bool(same and same[0])
        return out
    finally:
        con.close()


def decide(ws: Workspace, pair_id: int, decision: str, reason: str, user: str | None = None) -> dict[str, Any]:
    """Record a decision on a pending (or flagged) pair of the current run and apply it to the map."""
    with open_session(ws, Action.LINK_REVIEW, f"review:{pair_id}", user) as session:
        return _decide(ws, session, pair_id, decision, reason)


def _decide(ws: Workspace, session: Session, pair_id: int, decision: str, reason: str) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise WorkspaceError(f"The decision must be one of {', '.join(DECISIONS)}.")
    if reason not in DECISIONS[decision]:
        allowed = ", ".join(sorted(DECISIONS[decision]))
        raise WorkspaceError(f"The reason for '{decision}' must be one of: {allowed}.")
    pair = _pair(ws, pair_id)
    run = current_run(ws)
    if run is None or pair["run_id"] != run["id"]:
        raise WorkspaceError(
            f"Pair {pair_id} belongs to run {pair['run_id']}, which is not the current run; decide the pairs of "
            "the current run (`linkhaven link review list`)."
        )
    if pair["status"] not in {"pending", "flagged"}:
        raise WorkspaceError(f"Pair {pair_id} was already decided ({pair['decision']}); decisions are final.")
    version, table, moved, written = run["map_version"], run["map_table"], 0, None
    with ws.exclusive() as scratch:
        if decision == "match":
            current = ws.zone("linkage").read(run["map_table"])
            updated, moved = _merge(current, pair)
            del current
            if moved:
                version += 1
                table = f"{run['id'].lower()}-map-v{version}"
                path = scratch / "map.parquet"
                pq.write_table(updated, path, compression="zstd")
                written = ws.zone("linkage").write_parquet_file(table, path, updated.num_rows)
        session.detail.update(pair=pair_id, decision=decision, reason=reason, map_version=version, records_moved=moved)
        with session.transaction() as tx:
            if written is not None:
                ws.register_zone_file(tx, written, session.user)
                tx.execute(
                    insert(linkage_map_versions).values(
                        run_id=run["id"], version=version, map_table=table, rows=written.rows, reason="clerical",
                        review_pair=pair_id, created_at=now(), created_by=session.user,
                    )
                )  # fmt: skip
            tx.execute(
                update(link_review_pairs)
                .where(link_review_pairs.c.id == pair_id)
                .values(status="decided", decision=decision, reason=reason, decided_by=session.user,
                        decided_at=now(), map_version=version)
            )  # fmt: skip
            tx.execute(
                update(linkage_runs)
                .where(linkage_runs.c.id == run["id"])
                .values(
                    map_table=table,
                    map_version=version,
                    review_pending=linkage_runs.c.review_pending - (1 if pair["status"] == "pending" else 0),
                    review_decided=linkage_runs.c.review_decided + 1,
                    clerical_matches=linkage_runs.c.clerical_matches + (1 if decision == "match" else 0),
                )
            )
    return {"pair": pair_id, "decision": decision, "reason": reason, "map_version": version, "records_moved": moved}


def _merge(linkage_map: pa.Table, pair: dict[str, Any]) -> tuple[pa.Table, int]:
    """The map after a `match` on the pair (`engine.apply_decisions`), and how many records moved."""
    con = duckdb.connect()
    try:
        con.register("m_in", linkage_map)
        con.execute(
            "CREATE TABLE m AS SELECT record_code, source, person_key AS entity, method, match_probability FROM m_in"
        )
        con.execute("CREATE TABLE before AS SELECT record_code, entity FROM m")
        apply_decisions(con, "m", [Decision(pair["left_code"], pair["right_code"], "match", pair["match_probability"])])
        moved = con.execute(
            "SELECT count(*) FROM m JOIN before b USING (record_code) WHERE m.entity <> b.entity"
        ).fetchone()
        table = con.execute(
            "SELECT record_code, source, entity AS person_key, method, match_probability FROM m"
        ).to_arrow_table()
    finally:
        con.close()
    return table.cast(MAP_SCHEMA), int(moved[0]) if moved else 0
