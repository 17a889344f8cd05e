"""Counts and link rates for the linkage report, computed inside the run's DuckDB connection.

Link rates are broken down by source, school year and subgroup (gender, age, society,
Indigenous-serving society or not, region, assessment) because linkage that fails more often for
some groups biases every finding after it: a group whose records link less often looks smaller,
and its outcomes are measured on a selected part of it. Every figure is a count or a share; no
value of a record leaves this module.
"""

from __future__ import annotations

from typing import Any

import duckdb

from linkhaven.link.config import LinkConfig
from linkhaven.sqlquote import lit

AGE_BANDS = (
    "CASE WHEN age < 4 THEN '0-3' WHEN age < 6 THEN '4-5' WHEN age < 10 THEN '6-9' WHEN age < 14 THEN '10-13' "
    "WHEN age < 18 THEN '14-17' ELSE '18+' END"
)
HISTOGRAM_RANGE = (-20, 40)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _school_year(expr: str) -> str:
    """The school year (Sept-Aug) of a date, as '2019-20'."""
    start = f"(year({expr}) - CASE WHEN month({expr}) < 9 THEN 1 ELSE 0 END)"
    return f"CAST({start} AS VARCHAR) || '-' || lpad(CAST(({start} + 1) % 100 AS VARCHAR), 2, '0')"


def _dimensions(con: duckdb.DuckDBPyConnection, source: str, config: LinkConfig) -> dict[str, str]:
    """Subgroup name -> SQL expression over `c` (content) and `s` (standardised identity)."""
    columns = _columns(con, f"ct_{source}")
    dims: dict[str, str] = {}
    reference = None
    if "school_year" in columns:
        dims["school_year"] = "c.school_year"
        reference = "make_date(CAST(left(c.school_year, 4) AS INTEGER), 9, 1)"
    elif "episode_start" in columns:
        dims["school_year"] = _school_year("c.episode_start")
        reference = "c.episode_start"
    if "gender" in columns:
        dims["gender"] = "c.gender"
    date = config.date
    if reference is not None and date is not None and date in _columns(con, f"std_{source}"):
        dims["age"] = AGE_BANDS.replace("age", f"date_sub('year', s.{date}, {reference})")
    if "society_code" in columns:
        dims["society"] = "c.society_code"
        societies = config.code_attributes.get("society", {})
        if societies:
            indigenous = [code for code, attrs in societies.items() if attrs.get("indigenous") is True]
            listed = ", ".join(lit(c) for c in indigenous) or "NULL"
            dims["indigenous_serving_society"] = (
                f"CASE WHEN c.society_code IS NULL THEN NULL WHEN c.society_code IN ({listed}) THEN 'yes' ELSE 'no' END"
            )
            regions = " ".join(
                f"WHEN {lit(code)} THEN {lit(str(attrs['region']))}"
                for code, attrs in societies.items()
                if attrs.get("region") is not None
            )
            if regions:
                dims["region"] = f"CASE c.society_code {regions} END"
    if "assessment" in columns:
        dims["assessment"] = "c.assessment"
    return dims


def collect(con: duckdb.DuckDBPyConnection, inputs: Any, config: LinkConfig, linked: list[str]) -> dict[str, Any]:
    """Figures by source and subgroup, the match-weight distribution, model-estimated quality."""
    out: dict[str, Any] = {"link_rates": {}, "subgroups": {}, "match_weight_histogram": {}, "model_estimates": {}}
    out["persons"] = int(con.execute("SELECT count(DISTINCT person_key) FROM link_map").fetchone()[0])  # type: ignore[index]
    targets = set(config.targets)
    for source in [s for s in config.sources if s in inputs]:
        row = con.execute(
            f"""SELECT count(*), count(DISTINCT person_key),
              count(*) FILTER (WHERE method = 'deterministic'), count(*) FILTER (WHERE method = 'probabilistic'),
              count(*) FILTER (WHERE method = 'clerical'), count(*) FILTER (WHERE method = 'unlinked')
            FROM link_map WHERE source = {lit(source)}"""
        ).fetchone()
        assert row is not None
        records, persons, det, prob, clerical, unlinked = (int(v) for v in row)
        entry: dict[str, Any] = {
            "records": records,
            "persons": persons,
            "by_method": {"deterministic": det, "probabilistic": prob, "clerical": clerical, "unlinked": unlinked},
        }
        if source not in targets:
            entry["linked_to_spine"] = records - unlinked
            entry["link_rate"] = round((records - unlinked) / records, 6) if records else None
        out["link_rates"][source] = entry
        dims = _dimensions(con, source, config)
        if source in targets:  # every target record is its own person's: only the years are of interest
            dims = {k: v for k, v in dims.items() if k == "school_year"}
        out["subgroups"][source] = _subgroups(con, source, dims, rates=source not in targets)
    for source in linked:
        out["match_weight_histogram"][source] = _histogram(con, source)
        out["model_estimates"][f"{source}~{config.link_of(source).to}"] = _estimates(con, source)
    return out


def _subgroups(
    con: duckdb.DuckDBPyConnection, source: str, dims: dict[str, str], rates: bool
) -> dict[str, list[dict[str, Any]]]:
    """Records, linked records and persons by each dimension: one join, one GROUPING SETS pass."""
    if not dims:
        return {}
    names = list(dims)
    columns = ", ".join(f"{expr} AS d{i}" for i, expr in enumerate(dims.values()))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __sub AS
        SELECT m.method <> 'unlinked' AS linked, m.person_key, {columns}
        FROM link_map m JOIN std_{source} s USING (record_code) LEFT JOIN ct_{source} c USING (record_code)
        WHERE m.source = {lit(source)}"""
    )
    keys = ", ".join(f"d{i}" for i in range(len(names)))
    flags = ", ".join(f"grouping(d{i}) AS g{i}" for i in range(len(names)))
    sets = ", ".join(f"(d{i})" for i in range(len(names)))
    rows = con.execute(
        f"""SELECT {keys}, {flags}, count(*), count(*) FILTER (WHERE linked), count(DISTINCT person_key)
        FROM __sub GROUP BY GROUPING SETS ({sets})"""
    ).fetchall()
    con.execute("DROP TABLE __sub")
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    width = len(names)
    for row in rows:
        index = next(i for i in range(width) if row[width + i] == 0)
        value, n, k, p = row[index], int(row[2 * width]), int(row[2 * width + 1]), int(row[2 * width + 2])
        out[names[index]].append({
            "value": "(missing)" if value is None else str(value),
            "records": n,
            "linked": k,
            "persons": p,
            "link_rate": round(k / n, 6) if n and rates else None,
        })  # fmt: skip
    for name, entries in out.items():
        entries.sort(key=_sort_key if name == "age" else lambda e: (e["value"] == "(missing)", e["value"]))
    return out


def _sort_key(entry: dict[str, Any]) -> tuple[bool, int]:
    """Age bands in age order ('6-9' before '10-13'), missing last."""
    value = str(entry["value"])
    return (value == "(missing)", int(value.rstrip("+").split("-")[0]) if value[0].isdigit() else 999)


def _histogram(con: duckdb.DuckDBPyConnection, source: str) -> list[dict[str, Any]]:
    """Best-candidate match weight per record scored by the model, in bins of one (clipped)."""
    lo, hi = HISTOGRAM_RANGE
    rows = con.execute(
        f"""SELECT greatest({lo}, least({hi}, floor(w)))::INT AS bin, count(*) FROM (
          SELECT record_code, max(w) AS w FROM cand_{source} WHERE w IS NOT NULL GROUP BY record_code)
        GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    return [{"weight_from": int(b), "records": int(n)} for b, n in rows]


def _estimates(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, Any]:
    """Precision and recall the model itself expects for its own (non-deterministic) links.

    Each record's best candidate is a match with its match probability: accepted links are
    expected to hold sum(p) true matches out of their number (precision), and the records left
    unlinked to hide sum(p) of their best candidates' matches (missed, for recall). These are the
    model's beliefs, only as good as its calibration; `link evaluate` measures against truth."""
    row = con.execute(
        f"""WITH best AS (
          SELECT c.record_code, max(c.p) AS p FROM cand_{source} c GROUP BY c.record_code)
        SELECT count(*) FILTER (WHERE a.method = 'probabilistic'),
          sum(b.p) FILTER (WHERE a.method = 'probabilistic'),
          sum(b.p) FILTER (WHERE a.method = 'unlinked')
        FROM best b JOIN assigned_{source} a USING (record_code)"""
    ).fetchone()
    accepted, expected_true, missed = (0, 0.0, 0.0) if row is None else (row[0] or 0, row[1] or 0.0, row[2] or 0.0)
    precision = expected_true / accepted if accepted else None
    recall = expected_true / (expected_true + missed) if expected_true + missed > 0 else None
    return {
        "probabilistic_links": int(accepted),
        "expected_true_links": round(float(expected_true), 3),
        "expected_missed_links": round(float(missed), 3),
        "estimated_precision": None if precision is None else round(float(precision), 6),
        "estimated_recall": None if recall is None else round(float(recall), 6),
    }
