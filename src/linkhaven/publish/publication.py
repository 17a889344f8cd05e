"""A publication end to end: indicators, suppression, the audit gate, rounding, files, ledger.

`protect` turns computed cells into a suppression pattern and the audit that proves it;
`write_publication` writes the public files; `publish_panel` does both without a workspace (for
rehearsals and benchmarks); `publish_release` is the unit's command: it reads an approved
release, audits against the ledger, writes `<workspace>/publications/<ID>/`, and registers the
publication, its cells and the audit event in one transaction.

The gate is not a step a caller can leave out: `protect` always ends with a full attacker audit
of the final pattern (every hidden cell, earlier publications included, with the true values of the
published cells: the strictest case), and `write_publication` audits again what a reader gets: the
tables read back from the files just written, one mark for every hidden cell, rounded values as
their rounding interval, with every earlier publication. Nothing is published unless both pass,
and `audit.json` gives the second, which anyone can reproduce from the files (`reaudit`).

Which rule hid a cell (primary or complementary) is internal: the ledger and the register keep it,
the CLI tells the officer the counts, and no published file says it (see `cells.public_mark`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from sqlalchemy import func, insert, select

from linkhaven import __version__
from linkhaven.csvsafe import neutralise
from linkhaven.errors import GateRefused, LinkhavenError
from linkhaven.governance.audit import anchored_head
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, audit_log, open_session
from linkhaven.publish import ledger as ledger_store
from linkhaven.publish.audit import AuditResult, Knowledge, audit, clusters_of
from linkhaven.publish.cells import LEDGER_LABELS, PUBLISHED, SUPPRESSED, CellSystem, Status, SumKind
from linkhaven.publish.indicators import MEETING, NOT_MEETING, Computed, Row, TableDef, compute
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.reader import TABLES_DIR, ReaderView, read_publications
from linkhaven.publish.suppress import Rules, StatusArray, SuppressionStats, primary, secondary
from linkhaven.schema import publications
from linkhaven.spec.indicators import ALL, IndicatorSet
from linkhaven.spec.models import ProjectSpec
from linkhaven.workspace.workspace import Workspace, now

logger = logging.getLogger(__name__)

PUBLICATIONS_DIR = "publications"
MANIFEST = "manifest.json"
AUDIT_FILE = "audit.json"
REPORT = "report.html"
YOUNG_REPORT = "report-young-readers.html"


class PublicationRefused(GateRefused):
    """The attacker audit (or the ledger) refused the publication; nothing was written or registered."""


@dataclass
class Settings:
    """The protection a publication applies, resolved from the spec's thresholds and indicators."""

    min_cell_size: int
    protection_level: int
    rounding_base: int | None
    full_cells: bool = True
    secondary: bool = True
    """Only tests switch this off, to show the gate refusing an unprotected table."""

    @classmethod
    def from_spec(cls, spec: ProjectSpec) -> Settings:
        indicators = _indicators(spec)
        protection = indicators.protection
        minimum = max(spec.thresholds.min_cell_size, protection.min_cell_size or 0)
        return cls(
            min_cell_size=minimum,
            protection_level=protection.protection_level or minimum,
            rounding_base=spec.thresholds.rounding_base if protection.rounding == "nearest" else None,
            full_cells=protection.full_cells == "suppress",
        )

    @property
    def rules(self) -> Rules:
        return Rules(self.min_cell_size, self.protection_level, self.full_cells)


@dataclass
class Protected:
    computed: Computed
    status: StatusArray
    audit: AuditResult
    stats: SuppressionStats
    current: NDArray[np.bool_]
    timings: dict[str, float] = field(default_factory=dict)
    earlier: list[str] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    """The earlier publications this one was protected with; the reader's audit reads them too."""

    def hidden_counts(self) -> dict[str, int]:
        """Internal figures for the officer (CLI, register): never written to a published file."""
        current = self.current
        return {
            "hidden_by_rules": int(((self.status == Status.PRIMARY) & current).sum()),
            "hidden_as_complements": int(((self.status == Status.SECONDARY) & current).sum()),
        }


def _indicators(spec: ProjectSpec) -> IndicatorSet:
    if spec.indicators is None:
        raise LinkhavenError(
            "The project spec declares no indicators; add an `indicators:` section (docs/publication.md)."
        )
    return spec.indicators


def code_lists_of(spec: ProjectSpec) -> dict[str, list[str]]:
    return {name: list(codes) for name, codes in spec.code_lists.items()}


def _merge_ledger(
    computed: Computed, ledger: Ledger
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Add earlier cells and constraints; return (published earlier, known low, known high)."""
    system = computed.system
    for cell in ledger.cells:
        system.add_cell(cell.key, math.nan, f"{cell.publication}:{cell.table}")
    for total, parts in ledger.sums:
        system.add_sum(system.index[total], [system.index[p] for p in parts], SumKind.BREAKDOWN)
    for small, big in ledger.at_most:
        system.add_at_most(system.index[small], system.index[big])
    n = len(system)
    earlier_published = np.zeros(n, dtype=bool)
    low = np.full(n, -math.inf)
    high = np.full(n, math.inf)
    for cell in ledger.cells:
        if cell.value is None:
            continue
        index = system.index[cell.key]
        slack = (cell.rounding_base or 1) // 2 if cell.rounding_base else 0
        earlier_published[index] = True
        low[index] = max(low[index], max(cell.value - slack, 0.0))
        high[index] = min(high[index], cell.value + slack)
    return earlier_published, low, high


def protect(computed: Computed, settings: Settings, ledger: Ledger | None = None) -> Protected:
    """Primary and complementary suppression, then the full attacker audit (the gate's evidence)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    system = computed.system
    n_current = len(system)
    ledger = ledger or Ledger()
    earlier_published, known_low, known_high = _merge_ledger(computed, ledger)
    n = len(system)
    current = np.zeros(n, dtype=bool)
    current[:n_current] = True
    values = system.value_array()
    no_attribute = np.zeros(n, dtype=bool)
    no_attribute[:n_current] = computed.no_attribute
    stats = SuppressionStats()
    status = primary(system, settings.rules, current, no_attribute, stats)
    # The ledger: what was published stays published (and must still be true), what was hidden stays hidden.
    revised = current & earlier_published & ((values < known_low - 1e-9) | (values > known_high + 1e-9))
    if revised.any():
        raise PublicationRefused(
            f"{int(revised.sum())} cells differ from what earlier publications showed (the release revises them); "
            "publishing both would let readers subtract one from the other. Publish from a release of the same data."
        )
    reexposed = current & earlier_published & (status != Status.PUBLISHED)
    if reexposed.any():
        raise PublicationRefused(
            f"{int(reexposed.sum())} cells an earlier publication showed now fall under a primary rule; they cannot "
            "be hidden again. Keep the earlier rules, or withdraw the earlier publication first."
        )
    hidden_before = {system.index[c.key] for c in ledger.cells if c.value is None}
    for index in hidden_before:
        if index < n_current and status[index] == Status.PUBLISHED:
            status[index] = Status.SECONDARY
    ledger_only = ~current
    status[ledger_only & ~earlier_published] = Status.SECONDARY  # unknown to the attacker
    timings["primary_seconds"] = time.perf_counter() - started

    exact = np.nan_to_num(values)

    def knowledge_of(pattern: StatusArray) -> Knowledge:
        hidden = pattern != Status.PUBLISHED
        low = np.where(hidden, 0.0, exact)
        high = np.where(hidden, math.inf, exact)
        earlier_only = ledger_only & earlier_published
        low[earlier_only] = known_low[earlier_only]
        high[earlier_only] = known_high[earlier_only]
        return Knowledge(hidden & ~earlier_only, low, high)

    allowed = current & ~earlier_published
    started = time.perf_counter()
    if settings.secondary:
        status = secondary(
            system, status, settings.rules, allowed, knowledge_of=knowledge_of, stats=stats, current=current
        )
    timings["secondary_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    knowledge = knowledge_of(status)
    if ledger.empty:
        check = knowledge.hidden
    else:  # earlier hidden cells are audited again where this publication touches them
        variable = knowledge.hidden | (knowledge.high - knowledge.low > 1e-6)
        _, labels = clusters_of(system, variable)
        touched = np.unique(labels[current & variable])
        check = knowledge.hidden & (current | np.isin(labels, touched[touched >= 0]))
    result = audit(system, knowledge, settings.protection_level, check, values=values)
    timings["audit_seconds"] = time.perf_counter() - started
    return Protected(computed, status, result, stats, current, timings, list(ledger.publications), ledger)


def gate(protected: Protected) -> None:
    """Refuse unless every audited hidden cell's interval is at least the protection level wide."""
    result = protected.audit
    hidden = protected.status != Status.PUBLISHED
    unaudited = hidden & protected.current & ~result.audited
    if unaudited.any():
        raise PublicationRefused(f"{int(unaudited.sum())} hidden cells were not audited; the gate refuses.")
    failing = result.failing
    if len(failing):
        earlier = int((~protected.current[failing]).sum())
        raise PublicationRefused(
            f"The attacker audit refuses the publication: {len(failing)} hidden cells can be narrowed below the "
            f"protection level of {result.protection_level:g}"
            + (f" ({earlier} of them hidden by earlier publications)" if earlier else "")
            + ". Complementary suppression must run (and did not succeed); see the audit for the cells."
        )


# -- values as published ------------------------------------------------------------------------
def _round(value: float, base: int | None) -> float:
    if base is None:
        return value
    return float(base * math.floor(value / base + 0.5))


def published_values(protected: Protected, base: int | None) -> NDArray[np.float64]:
    values = np.nan_to_num(protected.computed.system.value_array())
    out = np.array([_round(v, base) for v in values]) if base else values.copy()
    out[protected.status != Status.PUBLISHED] = np.nan
    return out


def _row_value(
    row: Row,
    protected: Protected,
    shown: NDArray[np.float64],
    settings: Settings,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[str, str] | None:
    """(value, mark) of a table row; None for a rate of nobody (nothing to say).

    Every hidden row gets the one public mark, whatever hid it (its count's rule, a complement, too
    few values behind a mean): the reason is internal."""
    status = protected.status
    if row.cell is not None:
        if status[row.cell] != Status.PUBLISHED:
            return ("", SUPPRESSED)
        return (f"{shown[row.cell]:g}", PUBLISHED)
    denominator = row.denominator
    assert denominator is not None
    true_n = protected.computed.system.values[denominator]
    if true_n == 0:
        return None
    if row.numerator is not None:  # a share follows its numerator, its denominator and its complement
        cells = [row.numerator, denominator]
        complement = _complement(protected.computed, row.numerator, denominator)
        if complement is not None:
            cells.append(complement)
        if any(status[c] != Status.PUBLISHED for c in cells):
            return ("", SUPPRESSED)
        denominator_shown = shown[denominator]
        if denominator_shown <= 0:
            return None
        return (f"{100.0 * shown[row.numerator] / denominator_shown:.1f}", PUBLISHED)
    # a mean follows its count, and needs enough persons with a value and not all at one end
    if status[denominator] != Status.PUBLISHED:
        return ("", SUPPRESSED)
    low, high = value_range
    if row.mean_n < settings.min_cell_size or row.mean_sum in (row.mean_n * low, row.mean_n * high):
        return ("", SUPPRESSED)
    mean = row.mean_sum / row.mean_n
    scale = 100.0 if row.statistic == "mean_percent" else 1.0
    return (f"{scale * mean:.1f}", PUBLISHED)


def _complement(computed: Computed, numerator: int, denominator: int) -> int | None:
    key = computed.system.keys[numerator].replace(f"={MEETING}", f"={NOT_MEETING}")
    return computed.system.index.get(key)


# -- files --------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _table_constraints(table: TableDef, system: CellSystem) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cells = {row.cell for row in table.rows if row.cell is not None}
    sums = [
        {"total": system.keys[total], "parts": [system.keys[p] for p in parts]}
        for total, parts, _ in system.sums
        if total in cells and all(p in cells for p in parts)
    ]
    at_most = [
        {"cell": system.keys[small], "at_most": system.keys[big], "at_most_in": sorted(system.tables[big])}
        for small, big in system.at_most
        if small in cells
    ]
    return sums, at_most


def write_publication(
    folder: Path,
    protected: Protected,
    settings: Settings,
    indicators: IndicatorSet,
    meta: Mapping[str, Any],
    code_names: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Write tables (CSV + constraints JSON), audit them as a reader, then the audit, both reports and
    the manifest; return the manifest. Refused (tables removed again) if the reader's audit fails."""
    gate(protected)
    from linkhaven.publish.reports import write_reports

    folder.mkdir(parents=True, exist_ok=True)
    (folder / TABLES_DIR).mkdir(exist_ok=True)
    system = protected.computed.system
    shown = published_values(protected, settings.rounding_base)
    rounding = (
        {"base": settings.rounding_base, "method": "nearest", "max_error": settings.rounding_base // 2}
        if settings.rounding_base
        else None
    )
    table_files: list[dict[str, Any]] = []
    rendered: dict[str, list[dict[str, str]]] = {}
    written: list[Path] = []
    for table in protected.computed.tables:
        columns = [
            indicators.period,
            indicators.status.column,
            table.breakdown_column,
            "statistic",
            "value",
            "status",
            "cell",
        ]
        lines: list[dict[str, str]] = []
        for row in table.rows:
            value = _row_value(row, protected, shown, settings, table.measure.value_range)
            if value is None:
                continue
            lines.append(
                {
                    indicators.period: row.year,
                    indicators.status.column: row.status,
                    table.breakdown_column: row.code,
                    "statistic": row.statistic,
                    "value": value[0],
                    "status": value[1],
                    "cell": system.keys[row.cell] if row.cell is not None else "",
                }
            )
        rendered[table.name] = lines
        csv_path = folder / TABLES_DIR / f"{table.name}.csv"
        written.append(csv_path)
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: neutralise(v) for k, v in line.items()} for line in lines)
        sums, at_most = _table_constraints(table, system)
        description = {
            "table": table.name,
            "csv": f"{table.name}.csv",
            "measure": table.measure.id,
            "kind": table.measure.kind,
            "title": table.measure.title,
            "breakdown": table.breakdown,
            "dimensions": [indicators.period, indicators.status.column, table.breakdown_column, "statistic"],
            "margin_code": ALL,
            "status_hierarchy": {k: list(v) for k, v in indicators.status.hierarchy.items()},
            "cells_are": "counts of distinct persons; non-negative integers; the `cell` column names each count",
            "marks": {
                PUBLISHED: "the value is shown",
                SUPPRESSED: "the value is hidden; every hidden figure carries this one mark, whatever hid it",
            },
            "sums": sums,
            "at_most": at_most,
            "min_cell_size": settings.min_cell_size,
            "protection_level": settings.protection_level,
            "rounding": rounding,
            "rates": "percent_meeting = 100 * meeting / students, from the published counts; mean rows follow the "
            "status of the students count with the same conditions",
        }
        json_path = folder / TABLES_DIR / f"{table.name}.json"
        written.append(json_path)
        json_path.write_text(json.dumps(description, separators=(",", ":")) + "\n", encoding="utf-8")
        table_files.append(
            {
                "table": table.name,
                "csv": f"{TABLES_DIR}/{table.name}.csv",
                "constraints": f"{TABLES_DIR}/{table.name}.json",
                "rows": len(lines),
            }
        )
    started = time.perf_counter()
    view, result = _reader_audit(folder, protected.ledger, settings)
    protected.timings["reader_audit_seconds"] = time.perf_counter() - started
    if not result.passed:
        for path in written:
            path.unlink(missing_ok=True)
        raise PublicationRefused(
            f"The attacker audit of the files as a reader gets them refuses the publication: {len(result.failing)} "
            f"hidden cells can be narrowed below the protection level of {result.protection_level:g}, although the "
            "unit's own audit passed. The files tell more than the audit assumed; nothing was published. Report "
            "this as a defect of linkhaven."
        )
    audit_doc = audit_document(view, result, protected.earlier)
    (folder / AUDIT_FILE).write_text(json.dumps(audit_doc, separators=(",", ":")) + "\n", encoding="utf-8")
    write_reports(folder, protected, settings, indicators, rendered, meta, code_names or {}, result)
    current = protected.current
    published = int(((protected.status == Status.PUBLISHED) & current).sum())
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[str(path.relative_to(folder))] = _sha256(path)
    manifest = {
        **meta,
        "software": {"linkhaven": __version__},
        "settings": {
            "min_cell_size": settings.min_cell_size,
            "protection_level": settings.protection_level,
            "rounding": rounding,
            "full_cells": "suppress" if settings.full_cells else "allow",
        },
        "cells": {"total": int(current.sum()), PUBLISHED: published, SUPPRESSED: int(current.sum()) - published},
        "audit": {k: v for k, v in audit_doc.items() if k != "cells"},
        "earlier_publications": protected.earlier,
        "timings_seconds": {k: round(v, 3) for k, v in protected.timings.items()},
        "tables": table_files,
        "files_sha256": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _reader_audit(folder: Path, earlier: Ledger, settings: Settings) -> tuple[ReaderView, AuditResult]:
    """The attacker audit on what a reader holds: the tables just written, read back, and every earlier
    publication (from the ledger, which records exactly what each one showed)."""
    view = ReaderView()
    view.add_ledger(earlier)
    view.add_folder(folder, current=True)
    return view, view.audit(settings.protection_level)


def audit_document(view: ReaderView, result: AuditResult, earlier: Sequence[str]) -> dict[str, Any]:
    """The reader's audit as published: intervals computed from the published files only, never a
    hidden cell's value, and never which rule hid it."""
    system = view.system
    cells: list[dict[str, Any]] = []
    widths: list[float] = []
    for index in np.flatnonzero(result.audited):
        lower, upper = float(result.lower[index]), float(result.upper[index])
        cells.append(
            {
                "cell": system.keys[index],
                "tables": sorted(system.tables[index]),
                "lower": lower,
                "upper": None if math.isinf(upper) else upper,
                "width": None if math.isinf(upper) else round(upper - lower, 6),
                "protected": bool(upper - lower >= result.protection_level - 1e-6),
                "interval": "exact" if result.exact[index] else "contained",
            }
        )
        if not math.isinf(upper):
            widths.append(round(upper - lower, 6))
    return {
        "passed": result.passed,
        "protection_level": result.protection_level,
        "method": "for each hidden cell, the smallest and largest value consistent with what the published files "
        "say: every published value (within its rounding error where rounded), every sum and at-most constraint of "
        "this and earlier publications, and non-negativity; every hidden cell carries one mark, so nothing else is "
        "known of it (HiGHS linear programs). In clusters of more than a few hundred hidden cells, cells are first "
        "shown at least protection-level wide by feasible points found from the files alone (interval 'contained': "
        "the exact attacker interval contains it); every other cell's interval is solved exactly ('exact')",
        "exact_intervals": int((result.exact & result.audited).sum()),
        "hidden_cells_audited": int(result.audited.sum()),
        "clusters": result.clusters,
        "linear_programs": result.programs,
        "narrowest_width": min(widths, default=None),
        "earlier_publications": list(earlier),
        "cells": cells,
    }

# -- entry points -------------------------------------------------------------------------------
def publish_panel(
    panel: pa.Table | str,
    spec: ProjectSpec,
    folder: Path,
    meta: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> tuple[Protected, dict[str, Any]]:
    """Compute, protect, audit and write a publication from a panel, without a workspace or ledger record."""
    indicators = _indicators(spec)
    settings = settings or Settings.from_spec(spec)
    started = time.perf_counter()
    computed = compute(panel, indicators, code_lists_of(spec), connection=connection)
    compute_seconds = time.perf_counter() - started
    protected = protect(computed, settings, ledger)
    protected.timings = {"compute_seconds": compute_seconds, **protected.timings}
    gate(protected)
    manifest = write_publication(folder, protected, settings, indicators, dict(meta or {}), code_names_of(spec))
    return protected, manifest


def code_names_of(spec: ProjectSpec) -> dict[str, dict[str, str]]:
    return {
        name: {code: (entry.name or code) for code, entry in codes.items()} for name, codes in spec.code_lists.items()
    }


ReleaseLoader = Callable[[Any, str, Any], tuple[pa.Table, dict[str, Any]]]


def _open_approved_release(ws: Workspace, release_id: str, act: Session) -> tuple[pa.Table, dict[str, Any]]:
    from linkhaven.deid import open_release

    data = open_release(ws, release_id, act)
    return data.table, {
        "release_id": release_id,
        "release_manifest": data.info.manifest,
        "release_rows": data.info.rows,
    }


def publish_release(ws: Workspace, release_id: str, publication_id: str | None = None) -> dict[str, Any]:
    """`linkhaven publish --release ID`: publish the spec's indicators from an approved release."""
    with open_session(ws, Action.PUBLISH_RUN, f"release:{release_id}") as act, ws.exclusive() as scratch:
        spec = act.spec
        indicators = _indicators(spec)
        settings = Settings.from_spec(spec)
        table, release_meta = _open_approved_release(ws, release_id, act)
        earlier = ledger_store.load(ws.engine)
        with ws.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(publications)).scalar_one()
        pub_id = publication_id or f"pub-{count + 1:04d}"
        act.object = f"publication:{pub_id}"
        started = time.perf_counter()
        computed = compute(table, indicators, code_lists_of(spec))
        compute_seconds = time.perf_counter() - started
        protected = protect(computed, settings, earlier)
        protected.timings = {"compute_seconds": compute_seconds, **protected.timings}
        act.detail.update(
            publication=pub_id,
            cells=int(protected.current.sum()),
            hidden=int(((protected.status != Status.PUBLISHED) & protected.current).sum()),
            audit_passed=protected.audit.passed,
            earlier_publications=len(earlier.publications),
        )
        gate(protected)
        staging = scratch / pub_id
        meta = {
            "publication": pub_id,
            "project": spec.project.id,
            "created_at": now(),
            "created_by": act.user,
            "spec_sha256": ws.spec_sha256,
            "panel_rows": computed.panel_rows,
            **release_meta,
            "audit_log_head": audit_log_head(ws),
        }
        manifest = write_publication(staging, protected, settings, indicators, meta, code_names_of(spec))
        final = ws.root / PUBLICATIONS_DIR / pub_id
        if final.exists():
            raise LinkhavenError(f"{final} already exists; publication ids are never reused.")
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(final))
        try:
            _register(act, ws, pub_id, release_id, final, protected, settings, meta, manifest)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
    return {
        "publication": pub_id,
        "folder": str(final),
        **{k: manifest[k] for k in ("cells", "audit", "audit_log_head")},
        "internal": {**protected.hidden_counts(), "suppression": protected.stats.as_dict()},
    }


def audit_log_head(ws: Workspace) -> dict[str, Any]:
    """The audit log's newest event that the key store's anchor vouches for, as the publication is written.

    Recorded in the public manifest and report, it anchors the log outside the unit: anyone holding the
    publication can later ask that event N still carry hash H (`linkhaven audit verify --anchor N:H`),
    which no rewrite or rollback of the log can keep true.
    """
    head = anchored_head(audit_log(ws))
    return {"seq": head.seq, "hash": head.hash}


LedgerEntries = tuple[list[tuple[str, str, str, float | None]], list[tuple[str, list[str]]], list[tuple[str, str]]]


def ledger_entries(protected: Protected, settings: Settings) -> LedgerEntries:
    """What the ledger keeps of a publication: (key, table, status, published value), sums, at-most bounds."""
    system = protected.computed.system
    shown = published_values(protected, settings.rounding_base)
    in_current = protected.current
    cells = [
        (
            system.keys[i],
            sorted(system.tables[i])[0],
            LEDGER_LABELS[Status(int(protected.status[i]))],
            None if math.isnan(shown[i]) else float(shown[i]),
        )
        for i in np.flatnonzero(in_current)
    ]
    sums = [
        (system.keys[t], [system.keys[p] for p in parts])
        for t, parts, _ in system.sums
        if in_current[t] and all(in_current[p] for p in parts)
    ]
    at_most = [(system.keys[s], system.keys[b]) for s, b in system.at_most if in_current[s] and in_current[b]]
    return cells, sums, at_most


def extend_ledger(ledger: Ledger, publication_id: str, protected: Protected, settings: Settings) -> Ledger:
    """The in-memory ledger after a publication (rehearsals and tests; the workspace keeps it in the store)."""
    cells, sums, at_most = ledger_entries(protected, settings)
    return Ledger(
        [
            *ledger.cells,
            *(
                ledger_store.LedgerCell(key, table, status, value, settings.rounding_base, publication_id)
                for key, table, status, value in cells
            ),
        ],
        [*ledger.sums, *((total, tuple(parts)) for total, parts in sums)],
        [*ledger.at_most, *at_most],
        [*ledger.publications, publication_id],
    )


def _register(
    act: Any,
    ws: Workspace,
    pub_id: str,
    release_id: str,
    folder: Path,
    protected: Protected,
    settings: Settings,
    meta: Mapping[str, Any],
    manifest: Mapping[str, Any],
) -> None:
    """The register row (with the internal counts the public files do not give) and the ledger."""
    cells, sums, at_most = ledger_entries(protected, settings)
    hidden = protected.hidden_counts()
    with act.transaction() as conn:
        conn.execute(
            insert(publications).values(
                id=pub_id,
                release_id=release_id,
                folder=str(folder.relative_to(ws.root)),
                status="published",
                spec_sha256=str(meta["spec_sha256"]),
                manifest_sha256=_sha256(folder / MANIFEST),
                tables=len(protected.computed.tables),
                cells=len(cells),
                cells_published=int(manifest["cells"]["published"]),
                cells_primary=hidden["hidden_by_rules"],
                cells_secondary=hidden["hidden_as_complements"],
                min_cell_size=settings.min_cell_size,
                protection_level=settings.protection_level,
                rounding_base=settings.rounding_base,
                audit_passed=1,
                created_at=str(meta["created_at"]),
                created_by=act.user,
            )
        )
        ledger_store.record(conn, pub_id, cells, sums, at_most)


def list_publications(ws: Workspace) -> list[dict[str, Any]]:
    from linkhaven.governance.permissions import Action

    with open_session(ws, Action.PUBLISH_LIST) as act, ws.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(select(publications).order_by(publications.c.id)).mappings()
        ]
        act.detail["publications"] = len(rows)
    for row in rows:
        row["folder"] = str((Path(ws.root) / row["folder"]).resolve())
        row["audit_passed"] = bool(row["audit_passed"])
    return rows


def reaudit(folder: Path, earlier: Sequence[Path] = ()) -> AuditResult:
    """Rerun the attacker audit from the published files alone (CSV values and constraints JSON).

    What anyone holding the publications can do, and what the gate itself ran before publishing:
    published rounded values are taken as intervals, every hidden cell as anything from 0 up.
    """
    return read_publications(folder, earlier).audit()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
