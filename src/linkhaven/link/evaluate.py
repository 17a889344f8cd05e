"""Quality against ground truth: pairwise precision, recall and F1 for every declared link and
de-duplication (or the pairs asked for), and cluster metrics.

The truth file is CSV with a header: `source` (a source name of the spec), the record's id in
its source (`source_record_id`, or `record_id` as `linkhaven synth` writes it) and its true
entity (`true_entity_id`, `entity_id`, or `person_id`); records of one entity are one person.
Extra columns are ignored. A pair with neither true nor predicted links has no data: its figures
are reported as such (None, status "no data"), never as a perfect 1.0.

Pairs are counted, never listed: for two sources, the true pairs are sum over true persons of
n_a * n_b, the predicted pairs sum over person keys of n_a * n_b, and the true positives sum over
(true person, key) cells of n_a * n_b; within one source, n * (n - 1) / 2. So a full province is
measured with a few GROUP BYs. Only records that are both in the truth file and in the linkage
map are measured (a row intake quarantined never reached linkage); how many truth records were
not in the map is reported alongside.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from linkhaven.link.config import LinkConfig
from linkhaven.link.engine import CONTENT_USED, SourceInput
from linkhaven.link.sql import connect
from linkhaven.link.stats import _dimensions
from linkhaven.sqlquote import lit

RECORD_ID_COLUMNS = ("source_record_id", "record_id")
ENTITY_COLUMNS = ("true_entity_id", "entity_id", "person_id")


def _metrics(tp: int, predicted: int, true: int) -> dict[str, Any]:
    """Pairwise figures; a ratio over zero pairs is None (undefined), never 1.0."""
    precision = tp / predicted if predicted else None
    recall = tp / true if true else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "status": "no data" if not predicted and not true else "measured",
        "precision": None if precision is None else round(precision, 6),
        "recall": None if recall is None else round(recall, 6),
        "f1": None if f1 is None else round(f1, 6),
        "tp": tp,
        "fp": predicted - tp,
        "fn": true - tp,
        "true_pairs": true,
        "predicted_pairs": predicted,
    }


def evaluate(
    linkage_map: pa.Table,
    inputs: dict[str, SourceInput],
    truth: Path | pa.Table,
    config: LinkConfig,
    pairs: Iterable[tuple[str, str]] | None = None,
    scratch: Path | None = None,
) -> dict[str, Any]:
    """Compare `linkage_map` (record_code, source, person_key) with a truth file (module docstring);
    `inputs` give each record code's source record id. `pairs` default to every declared link and
    de-duplication (`LinkConfig.evaluation_pairs`)."""
    chosen = list(pairs) if pairs is not None else config.evaluation_pairs()
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        con = connect(Path(tmp), config.threads, config.memory_limit)
        try:
            return _evaluate(con, linkage_map, inputs, truth, chosen, config)
        finally:
            con.close()


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    linkage_map: pa.Table,
    inputs: dict[str, SourceInput],
    truth: Path | pa.Table,
    pairs: list[tuple[str, str]],
    config: LinkConfig,
) -> dict[str, Any]:
    con.register("map_in", linkage_map.select(["record_code", "source", "person_key"]))
    if isinstance(truth, Path):
        con.execute(f"CREATE TABLE truth_in AS SELECT * FROM read_csv({lit(str(truth))}, header = true, "
                    "all_varchar = true)")  # fmt: skip
    else:
        con.register("truth_in", truth)
    columns = {r[0] for r in con.execute("DESCRIBE truth_in").fetchall()}
    record_id = next((c for c in RECORD_ID_COLUMNS if c in columns), None)
    entity = next((c for c in ENTITY_COLUMNS if c in columns), None)
    if "source" not in columns or record_id is None or entity is None:
        raise ValueError(
            "the truth file needs the columns source, source_record_id (or record_id) and true_entity_id "
            "(or entity_id, person_id)"
        )
    con.execute(
        f"CREATE TABLE truth AS SELECT source, CAST({record_id} AS VARCHAR) AS record_id, "
        f"CAST({entity} AS VARCHAR) AS person_id FROM truth_in"
    )
    date = config.date
    parts = []
    for source, given in inputs.items():
        table = given.identity_table()
        rid = config.record_ids.get(source, "source_record_id")
        born = next((b.field for b in config.bindings(source) if b.identity == date), None)
        keep = [c for c in ("record_code", rid, born) if c is not None and c in table.column_names]
        identity = table.select(list(dict.fromkeys(keep)))
        del table
        con.execute(f"CREATE TABLE id_{source} AS SELECT * FROM identity")
        del identity
        content = given.content_table(CONTENT_USED)
        con.execute(f"CREATE TABLE ct_{source} AS SELECT * FROM content")
        del content
        dated = f", {born} AS {date}" if born in keep and date is not None else ""
        con.execute(f"CREATE VIEW std_{source} AS SELECT record_code{dated} FROM id_{source}")
        parts.append(f"SELECT record_code, CAST({rid} AS VARCHAR) AS source_record_id, {lit(source)} AS source "
                     f"FROM id_{source}")  # fmt: skip
    con.execute(f"CREATE TABLE records AS {' UNION ALL '.join(parts)}")
    con.execute(
        """CREATE TABLE ev AS
        SELECT m.source, m.record_code, m.person_key AS k, t.person_id AS t
        FROM map_in m JOIN records r USING (record_code, source)
        JOIN truth t ON t.source = m.source AND t.record_id = r.source_record_id"""
    )
    coverage = _coverage(con)
    result: dict[str, Any] = {"pairs": {}, "coverage": coverage}
    for a, b in pairs:
        result["pairs"][f"{a}~{b}"] = _pair(con, a, b)
    result["clusters"] = _clusters(con)
    result["clusters_by_source"] = {a: _clusters(con, a) for a in dict.fromkeys(a for a, b in pairs if a == b)}
    result["subgroup_recall"] = {}
    for a, b in pairs:
        if a != b and a in inputs:
            result["subgroup_recall"][f"{a}~{b}"] = _subgroup_recall(con, a, b, config)
    return result


def _coverage(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    rows = con.execute(
        """SELECT t.source, count(*) AS n, (SELECT count(*) FROM ev WHERE ev.source = t.source) AS m
        FROM truth t GROUP BY t.source ORDER BY 1"""
    ).fetchall()
    return {
        str(source): {"truth_records": int(n), "measured_records": int(m), "truth_records_not_in_map": int(n - m)}
        for source, n, m in rows
    }


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0] or 0) if row else 0


def _pair(con: duckdb.DuckDBPyConnection, a: str, b: str) -> dict[str, Any]:
    if a == b:
        cell = f"SELECT t, k, count(*) AS n FROM ev WHERE source = {lit(a)} GROUP BY t, k"
        tp = _count(con, f"SELECT sum(n * (n - 1) / 2) FROM ({cell})")
        predicted = _count(
            con, f"SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) AS n FROM ev WHERE source = {lit(a)} GROUP BY k)"
        )
        true = _count(
            con, f"SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) AS n FROM ev WHERE source = {lit(a)} GROUP BY t)"
        )
        return _metrics(tp, predicted, true)

    def side(source: str, keys: str) -> str:
        return f"SELECT {keys}, count(*) AS n FROM ev WHERE source = {lit(source)} GROUP BY {keys}"

    tp = _count(con, f"SELECT sum(x.n * y.n) FROM ({side(a, 't, k')}) x JOIN ({side(b, 't, k')}) y USING (t, k)")
    predicted = _count(con, f"SELECT sum(x.n * y.n) FROM ({side(a, 'k')}) x JOIN ({side(b, 'k')}) y USING (k)")
    true = _count(con, f"SELECT sum(x.n * y.n) FROM ({side(a, 't')}) x JOIN ({side(b, 't')}) y USING (t)")
    return _metrics(tp, predicted, true)


def _clusters(con: duckdb.DuckDBPyConnection, source: str | None = None) -> dict[str, Any]:
    """Cluster-level agreement over all measured records (or one source's, for a de-duplication):
    how many true persons are recovered exactly as one person key, how many are split or merged,
    and B-cubed precision and recall (None without records)."""
    where = "" if source is None else f" WHERE source = {lit(source)}"
    # Materialised, not CTEs: DuckDB 1.5 planned the CTE form of these joins as a product.
    con.execute(f"CREATE OR REPLACE TEMP TABLE __cell AS SELECT t, k, count(*) AS n FROM ev{where} GROUP BY t, k")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __nt AS SELECT t, count(*) AS nt FROM ev{where} GROUP BY t")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __nk AS SELECT k, count(*) AS nk FROM ev{where} GROUP BY k")
    row = con.execute(
        """SELECT (SELECT count(*) FROM __nt), (SELECT count(*) FROM __nk),
          (SELECT count(*) FROM __cell c JOIN __nt a ON a.t = c.t JOIN __nk b ON b.k = c.k
             WHERE c.n = a.nt AND c.n = b.nk),
          (SELECT count(*) FROM (SELECT t FROM __cell GROUP BY t HAVING count(*) > 1)),
          (SELECT count(*) FROM (SELECT k FROM __cell GROUP BY k HAVING count(*) > 1)),
          (SELECT sum(c.n * c.n / b.nk) / sum(c.n) FROM __cell c JOIN __nk b ON b.k = c.k),
          (SELECT sum(c.n * c.n / a.nt) / sum(c.n) FROM __cell c JOIN __nt a ON a.t = c.t)"""
    ).fetchone()
    assert row is not None
    persons, keys, exact, split, merged, b3p, b3r = row
    if not persons:
        return {"status": "no data", "true_persons": 0, "person_keys": int(keys or 0), "bcubed_precision": None,
                "bcubed_recall": None, "bcubed_f1": None, "persons_recovered_exactly": 0}  # fmt: skip
    b3p, b3r = float(b3p), float(b3r)
    return {
        "status": "measured",
        "true_persons": int(persons),
        "person_keys": int(keys),
        "persons_recovered_exactly": int(exact),
        "exact_share": round(exact / persons, 6) if persons else None,
        "persons_split": int(split),
        "keys_merging_persons": int(merged),
        "bcubed_precision": round(b3p, 6),
        "bcubed_recall": round(b3r, 6),
        "bcubed_f1": round(2 * b3p * b3r / (b3p + b3r), 6) if b3p + b3r else 0.0,
    }


def _subgroup_recall(con: duckdb.DuckDBPyConnection, a: str, b: str, config: LinkConfig) -> dict[str, Any]:
    """Pairwise recall of a~b among the `a` records of each subgroup (gender, age, society...)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __per_record AS
        WITH other_t AS (SELECT t, count(*) AS n FROM ev WHERE source = {lit(b)} GROUP BY t),
        other_tk AS (SELECT t, k, count(*) AS n FROM ev WHERE source = {lit(b)} GROUP BY t, k)
        SELECT e.record_code, coalesce(ot.n, 0) AS true_pairs, coalesce(otk.n, 0) AS found_pairs
        FROM ev e LEFT JOIN other_t ot USING (t) LEFT JOIN other_tk otk USING (t, k)
        WHERE e.source = {lit(a)}"""
    )
    out: dict[str, Any] = {}
    for name, expr in _dimensions(con, a, config).items():
        rows = con.execute(
            f"""SELECT {expr} AS value, count(*) FILTER (WHERE p.true_pairs > 0), sum(p.true_pairs),
              sum(p.found_pairs)
            FROM __per_record p JOIN std_{a} s USING (record_code) LEFT JOIN ct_{a} c USING (record_code)
            GROUP BY 1 ORDER BY 1 NULLS LAST"""
        ).fetchall()
        out[name] = [
            {
                "value": "(missing)" if value is None else str(value),
                "records_with_true_links": int(n or 0),
                "true_pairs": int(t or 0),
                "recall": round(float(f) / float(t), 6) if t else None,
            }
            for value, n, t, f in rows
        ]
    return out
