"""De-identifying a panel: measure, choose the transformation, apply it. No workspace, no metadata store.

`deidentify` takes a DuckDB connection holding the panel and a release section, and returns the
released rows (Arrow) with everything the report needs. The heavy steps are SQL over the whole
table (a histogram by GROUP BY, then one join-and-filter pass to apply the chosen levels); the
lattice search in between works on the histogram only. The released table holds the section's
columns and a per-release pseudonym, never the person key the linkage stage assigned.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.deid.hierarchy import Hierarchy, compile_hierarchy
from linkhaven.deid.lattice import Histogram, Infeasible, Lattice, NodeResult, SearchResult
from linkhaven.deid.risk import ContextRisk, Criterion, RiskMeasure, context_risk, measure
from linkhaven.errors import GateRefused, SpecError
from linkhaven.spec import ProjectSpec
from linkhaven.spec.panels import period_column
from linkhaven.spec.releases import ReleaseSection
from linkhaven.sqlquote import lit, q

PSEUDONYM = "person_id"
"""The released person column: a pseudonym of this release only (R16, R17)."""
PERSON_KEY = "person_key"
PSEUDONYM_BYTES = 12
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Policy:
    """The section's criterion in numbers: threshold, context, measure, suppression limit."""

    threshold: float
    context: ContextRisk
    criterion: Criterion
    suppression_limit: float
    l_required: dict[str, int]

    @classmethod
    def of(cls, spec: ProjectSpec, section: ReleaseSection) -> Policy:
        threshold = spec.thresholds.risk_threshold
        if section.risk_threshold is not None:
            if section.risk_threshold > threshold:
                raise SpecError(
                    f"The release section's risk_threshold {section.risk_threshold} is looser than the spec's "
                    f"{threshold}; a release may only be stricter (R6)."
                )
            threshold = section.risk_threshold
        limit = spec.thresholds.suppression_limit
        if section.suppression_limit is not None:
            if section.suppression_limit > limit:
                raise SpecError(
                    f"The release section's suppression_limit {section.suppression_limit} is above the spec's "
                    f"{limit}; a release may only be stricter."
                )
            limit = section.suppression_limit
        context = context_risk(section.release_model, section.context)
        criterion = Criterion.build(
            section.release_model, threshold, context.context_risk, spec.thresholds.strict_average_row_cap
        )
        return cls(threshold, context, criterion, limit, dict(section.l_diversity))


@dataclass
class DeidResult:
    """The released rows and every figure of the de-identification report."""

    table: pa.Table
    policy: Policy
    hierarchies: list[Hierarchy]
    search: SearchResult
    risk_before: RiskMeasure
    risk_after_estimate: RiskMeasure
    loss_by_column: dict[str, float]
    transforms: dict[str, dict[str, Any]]
    persons: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chosen(self) -> NodeResult:
        return self.search.chosen

    def levels(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for h, level in zip(self.hierarchies, self.chosen.levels, strict=True):
            out[h.column] = {
                "level": level,
                "of": h.levels - 1,
                "applied": h.names[level],
                "hierarchy": list(h.names),
                "distinct_before": h.cardinality(0),
                "distinct_after": h.cardinality(level),
            }
        return out


def check_section(spec: ProjectSpec, section: ReleaseSection, name: str, panel_columns: set[str]) -> None:
    """Cross-checks the section against the rest of the spec and the panel; every problem at once."""
    problems: list[str] = []
    where = f"releases.{name}"
    recipient = spec.recipients.get(section.recipient)
    if recipient is None:
        problems.append(f"{where}.recipient: '{section.recipient}' is not declared under recipients")
    elif "deidentified" not in {str(c) for c in recipient.data_classes}:
        problems.append(f"{where}.recipient: '{section.recipient}' may not receive de-identified data")
    direct = {f.name for s in spec.sources.values() for f in s.fields if str(f.role) == "direct_identifier"}
    for column in section.released_columns:
        if column not in panel_columns:
            problems.append(f"{where}: '{column}' is not a panel column (see docs/deidentification.md)")
        if column in direct or column in {PERSON_KEY, "record_code"}:
            problems.append(f"{where}: '{column}' is a direct identifier and never leaves the unit")
    qi = {x.column: x for x in section.quasi_identifiers}
    period = period_column(spec, section)
    if period is not None and (period not in qi or not qi[period].fixed):
        problems.append(
            f"{where}.quasi_identifiers: '{period}' must be a fixed quasi-identifier: the panel has one row per "
            "person per period, so classes within a period count persons, not rows"
        )
    for x in section.quasi_identifiers:
        if x.code_list is not None and x.code_list not in spec.code_lists:
            problems.append(f"{where}: code_list '{x.code_list}' of '{x.column}' is not declared under code_lists")
    if problems:
        raise SpecError("The release section has problems; fix each, then try again.\n" + "\n".join(problems))


def _histogram(
    con: duckdb.DuckDBPyConnection, panel: str, qis: list[str], l_columns: list[str], strata: list[str]
) -> tuple[pa.Table, dict[str, pa.Table]]:
    keys = ", ".join(q(c) for c in qis)
    extra = "".join(f", {q(c)}::VARCHAR AS {q('__s_' + c)}" for c in strata)
    main = con.execute(f"SELECT {keys}{extra}, count(*) AS __n FROM {panel} GROUP BY ALL").to_arrow_table()
    sensitive = {
        column: con.execute(
            f"SELECT {keys}, {q(column)} AS __v FROM {panel} WHERE {q(column)} IS NOT NULL GROUP BY ALL"
        ).to_arrow_table()
        for column in l_columns
    }
    return main, sensitive


def _base_values(hist: pa.Table, column: str) -> tuple[pa.Array, np.ndarray]:
    grouped = hist.group_by(column).aggregate([("__n", "sum")])
    pairs = sorted(
        zip(grouped.column(column).to_pylist(), grouped.column("__n_sum").to_pylist(), strict=True),
        key=lambda pair: (pair[0] is None, pair[0] if pair[0] is not None else 0),
    )
    values = pa.array([v for v, _ in pairs], grouped.schema.field(column).type)
    return values, np.array([n for _, n in pairs], dtype=np.int64)


def _index(values: pa.ChunkedArray | pa.Array, value_set: pa.Array) -> np.ndarray:
    found = pc.index_in(values, value_set=value_set, skip_nulls=False)
    if found.null_count:
        raise RuntimeError("a histogram value is missing from its column's distinct values")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _attributes(spec: ProjectSpec, code_list: str | None) -> dict[str, dict[str, object]] | None:
    if code_list is None or code_list not in spec.code_lists:
        return None
    return {
        code: {**dict(entry.attributes), **({"name": entry.name} if entry.name else {})}
        for code, entry in spec.code_lists[code_list].items()
    }


def pseudonyms(persons: list[str], mode: str, key: bytes | None) -> list[str]:
    """One pseudonym per person for one release: random (kept nowhere) or HMAC under the release's key."""
    n = len(persons)
    if mode == "keyed":
        if key is None:
            raise ValueError("keyed pseudonyms need the release's key")
        out = ["P" + hmac.new(key, p.encode(), hashlib.sha256).digest()[:PSEUDONYM_BYTES].hex() for p in persons]
    else:
        raw = os.urandom(PSEUDONYM_BYTES * n)
        out = ["P" + raw[i * PSEUDONYM_BYTES : (i + 1) * PSEUDONYM_BYTES].hex() for i in range(n)]
    if len(set(out)) != n:  # 96 random bits: a collision is all but impossible, but never silent
        raise RuntimeError("pseudonym collision; run the release again")
    return out


def _numeric(column: str, spec: Mapping[str, Any]) -> str:
    expr = f"p.{q(column)}"
    if spec.get("step") is not None:
        expr = f"floor({expr} / {float(spec['step'])!r}) * {float(spec['step'])!r}"
    if spec.get("top") is not None:
        expr = f"least({expr}, {float(spec['top'])!r})"
    if spec.get("bottom") is not None:
        expr = f"greatest({expr}, {float(spec['bottom'])!r})"
    if spec.get("decimals") is not None:
        expr = f"round({expr}, {int(spec['decimals'])})"
    return expr


def deidentify(
    con: duckdb.DuckDBPyConnection,
    spec: ProjectSpec,
    section: ReleaseSection,
    name: str,
    pseudonym_key: bytes | None = None,
    panel: str = "panel",
    progress: Progress | None = None,
    max_evaluations: int = 5000,
) -> DeidResult:
    """Measure the panel's risk, choose the least-loss acceptable transformation, return the released rows."""
    say = progress or (lambda _step: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 3)
        clock = now

    columns = {r[0] for r in con.execute(f"DESCRIBE {panel}").fetchall()}
    check_section(spec, section, name, columns)
    policy = Policy.of(spec, section)
    qis = [x.column for x in section.quasi_identifiers]
    say("histogram of the quasi-identifiers")
    hist, sens = _histogram(con, panel, qis, list(policy.l_required), list(section.protect))
    lap("histogram")
    hierarchies: list[Hierarchy] = []
    codes: list[np.ndarray] = []
    value_sets: list[pa.Array] = []
    for x in section.quasi_identifiers:
        values, counts = _base_values(hist, x.column)
        hierarchies.append(compile_hierarchy(x, values.to_pylist(), counts, _attributes(spec, x.code_list)))
        codes.append(_index(hist.column(x.column), values))
        value_sets.append(values)
    sensitive: dict[str, tuple[tuple[np.ndarray, ...], np.ndarray]] = {}
    for column, table in sens.items():
        base = tuple(_index(table.column(c), value_sets[i]) for i, c in enumerate(qis))
        encoded = pc.dictionary_encode(table.column("__v").combine_chunks())
        sensitive[column] = (base, np.asarray(encoded.indices.to_numpy(), dtype=np.int64))
    strata = {
        column: np.asarray(
            pc.dictionary_encode(hist.column("__s_" + column).combine_chunks()).indices.to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        for column in section.protect
    }
    histogram = Histogram(tuple(codes), np.asarray(hist.column("__n").to_numpy(), dtype=np.int64), sensitive, strata)
    lap("hierarchies")
    say("searching the generalisation lattice")
    lattice = Lattice(hierarchies, histogram, policy.criterion, policy.l_required, policy.suppression_limit,
                      list(section.protect))  # fmt: skip
    try:
        search = lattice.search(max_evaluations)
    except Infeasible as failed:
        raise GateRefused(
            "No transformation meets the threshold within the suppression limit, even with every quasi-identifier "
            f"withheld ({failed.result.reason}); nothing was released. Review the release section (fewer "
            "quasi-identifiers or sensitive constraints) with the privacy officer."
        ) from None
    lap("search")
    before_sizes, l_before = lattice.before()
    risk_before = measure(before_sizes, policy.criterion, l_before, policy.l_required)
    assert search.chosen.kept_sizes is not None
    risk_after = measure(search.chosen.kept_sizes, policy.criterion, search.chosen.l_found, policy.l_required)
    loss_by_column = _loss_by_column(lattice, search.chosen)
    say("applying the transformation")
    table, transforms, persons = _apply(
        con, panel, section, hierarchies, value_sets, search.chosen, pseudonym_key, period_column(spec, section)
    )
    lap("apply")
    return DeidResult(
        table=table,
        policy=policy,
        hierarchies=hierarchies,
        search=search,
        risk_before=risk_before,
        risk_after_estimate=risk_after,
        loss_by_column=loss_by_column,
        transforms=transforms,
        persons=persons,
        timings=timings,
    )


def _loss_by_column(lattice: Lattice, chosen: NodeResult) -> dict[str, float]:
    """Average generalisation loss per quasi-identifier over all rows (a suppressed row loses everything)."""
    total = lattice.total
    kept_share = (total - chosen.suppressed_rows) / total if total else 0.0
    out: dict[str, float] = {}
    for h, level in zip(lattice.h, chosen.levels, strict=True):
        if h.fixed:
            continue
        out[h.column] = round(h.mean_loss(level) * kept_share + (1 - kept_share), 6)
    return out


def _apply(
    con: duckdb.DuckDBPyConnection,
    panel: str,
    section: ReleaseSection,
    hierarchies: list[Hierarchy],
    value_sets: list[pa.Array],
    chosen: NodeResult,
    pseudonym_key: bytes | None,
    period: str | None,
) -> tuple[pa.Table, dict[str, dict[str, Any]], int]:
    joins: list[str] = []
    selects: list[str] = [f"ps.{PSEUDONYM}"]
    conditions: list[str] = []
    for i, (h, values) in enumerate(zip(hierarchies, value_sets, strict=True)):
        level = chosen.levels[i]
        codes = h.up[level]
        labels = [h.labels[level][c] for c in codes]
        valid = [j for j, v in enumerate(h.base_values) if v is not None]
        con.register(
            f"lh_qi{i}",
            pa.table(
                {
                    "v": values.take(pa.array(valid, pa.int64())),
                    "code": pa.array(codes[valid], pa.int64()),
                    "label": pa.array([labels[j] for j in valid], pa.string()),
                }
            ),
        )
        null = [j for j, v in enumerate(h.base_values) if v is None]
        null_code = str(int(codes[null[0]])) if null else "NULL"
        null_label = lit(labels[null[0]] or "") if null and labels[null[0]] is not None else "NULL"
        column = q(h.column)
        joins.append(f"LEFT JOIN lh_qi{i} m{i} ON p.{column} = m{i}.v")
        selects.append(f"coalesce(m{i}.label, {null_label}) AS {column}")
        conditions.append(f"coalesce(m{i}.code, {null_code})")
    suppressed = chosen.suppressed_codes or tuple(np.zeros(0, dtype=np.int64) for _ in hierarchies)
    con.register("lh_suppressed", pa.table({f"c{i}": pa.array(c, pa.int64()) for i, c in enumerate(suppressed)}))
    anti = " AND ".join(f"s.c{i} = {cond}" for i, cond in enumerate(conditions))
    transforms: dict[str, dict[str, Any]] = {}
    for column in (*section.sensitive, *section.columns):
        spec = section.transforms.get(column)
        if spec is None:
            selects.append(f"p.{q(column)}")
        else:
            details = spec.model_dump(exclude_none=True)
            transforms[column] = details
            selects.append(f"{_numeric(column, details)} AS {q(column)}")
    persons = [r[0] for r in con.execute(f"SELECT DISTINCT {PERSON_KEY} FROM {panel}").fetchall()]
    con.register(
        "lh_pseudonyms",
        pa.table(
            {PERSON_KEY: pa.array(persons, pa.string()),
             PSEUDONYM: pa.array(pseudonyms(persons, section.pseudonyms, pseudonym_key), pa.string())}
        ),
    )  # fmt: skip
    sql = f"""SELECT {", ".join(selects)}
        FROM {panel} p {" ".join(joins)}
        JOIN lh_pseudonyms ps ON ps.{PERSON_KEY} = p.{PERSON_KEY}
        WHERE NOT EXISTS (SELECT 1 FROM lh_suppressed s WHERE {anti or "false"})
        ORDER BY ps.{PSEUDONYM}{f", p.{q(period)}" if period else ""}"""
    del persons
    reader = con.execute(sql).to_arrow_reader(1_000_000)
    batches = [_compact(batch) for batch in reader]
    table = pa.Table.from_batches(batches) if batches else _compact_empty(con, sql)
    released_persons = len(pc.unique(table.column(PSEUDONYM))) if table.num_rows else 0
    for i in range(len(hierarchies)):
        con.unregister(f"lh_qi{i}")
    con.unregister("lh_suppressed")
    con.unregister("lh_pseudonyms")
    return table, transforms, released_persons


def _compact(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary-encode text columns (all but the pseudonym): a 12-million-row release stays small in memory."""
    arrays = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name != PSEUDONYM and pa.types.is_string(column.type):
            encoded = pc.dictionary_encode(column)
            size = len(encoded.dictionary)
            width = pa.int8() if size < 128 else pa.int16() if size < 32768 else None
            if width is not None:  # small indices: a third of the memory of int32 ones
                encoded = pa.DictionaryArray.from_arrays(encoded.indices.cast(width), encoded.dictionary)
            column = encoded
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _compact_empty(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.execute(sql).to_arrow_table()
