"""The public files of a publication: tables, constraints, manifest, `audit.json` and the reports.

`write_publication` audits again what a reader gets: the tables read back from the files just
written, one mark for every hidden cell, rounded values as their rounding interval, with every
earlier publication. Nothing is published unless that passes too, and `audit.json` gives the
result, which anyone can reproduce from the files alone (`reaudit`). Which rule hid a cell
(primary or complementary) is internal: no published file says it (see `cells.public_mark`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from linkhaven import __version__
from linkhaven.csvsafe import neutralise
from linkhaven.publish.audit import AuditResult
from linkhaven.publish.cells import PUBLISHED, SUPPRESSED, CellSystem, Status
from linkhaven.publish.indicators import MEETING, NOT_MEETING, Computed, Row, TableDef
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.protection import Protected, gate, published_values
from linkhaven.publish.reader import TABLES_DIR, ReaderView, read_publications
from linkhaven.publish.settings import PublicationRefused, Settings
from linkhaven.spec.indicators import ALL, IndicatorSet

logger = logging.getLogger(__name__)

PUBLICATIONS_DIR = "publications"
MANIFEST = "manifest.json"
AUDIT_FILE = "audit.json"
REPORT = "report.html"
YOUNG_REPORT = "report-young-readers.html"


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


def sha256_of(path: Path) -> str:
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
    counted = indicators.wording.counted
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
            "rates": f"percent_meeting = 100 * meeting / {counted}, from the published counts; mean rows follow "
            f"the status of the {counted} count with the same conditions",
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
            files[str(path.relative_to(folder))] = sha256_of(path)
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
        "method": "for each hidden cell, the smallest and largest value compatible with what the published files "
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


def reaudit(folder: Path, earlier: Sequence[Path] = ()) -> AuditResult:
    """Rerun the attacker audit from the published files alone (CSV values and constraints JSON).

    What anyone holding the publications can do, and what the gate itself ran before publishing:
    published rounded values are taken as intervals, every hidden cell as anything from 0 up.
    """
    return read_publications(folder, earlier).audit()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
