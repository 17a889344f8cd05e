"""The de-identification report (IPC Step 9, R32), the data dictionary and the manifest of a release.

The report is what an IPC reviewer reads: the release model, every variable and its role, the
threshold and how it was derived, the context risk, the risk before and after (after is
recomputed from the released file itself), the transformations, the suppression counts and the
utility kept. It holds counts, rates and code labels, never a row. The JSON is the record; the
HTML is the same content for people. The manifest ties the release together by hashes.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import numpy as np
import pyarrow as pa

from linkhaven import __version__
from linkhaven.deid.engine import PSEUDONYM, DeidResult
from linkhaven.deid.risk import RiskMeasure
from linkhaven.spec import ProjectSpec
from linkhaven.spec.panels import panel_columns, period_column, release_panel
from linkhaven.spec.releases import ReleaseSection

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
DICTIONARY_JSON = "dictionary.json"
DICTIONARY_MD = "dictionary.md"
MANIFEST = "manifest.json"
METHOD = "IPC De-identification Guidelines for Structured Data (June 2016), steps 1-9"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def section_sha256(section: ReleaseSection) -> str:
    return hashlib.sha256(json.dumps(section.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def direct_identifiers(spec: ProjectSpec) -> list[str]:
    names = {f.name for s in spec.sources.values() for f in s.fields if str(f.role) == "direct_identifier"}
    return sorted(names | {"record_code", "person_key"})


def _roles(section: ReleaseSection) -> dict[str, str]:
    roles = {PSEUDONYM: "pseudonym"}
    roles.update({x.column: "quasi_identifier" for x in section.quasi_identifiers})
    roles.update({c: "sensitive" for c in section.sensitive})
    roles.update({c: "program" for c in section.columns})
    return roles


def _described(spec: ProjectSpec, section: ReleaseSection) -> dict[str, Any]:
    """The released panel's columns as the spec describes them (meaning and origin), by name."""
    if not spec.panels:
        return {}
    _, panel = release_panel(spec, section)
    return {c.name: c for c in panel_columns(spec, panel)}


def _rows_are(spec: ProjectSpec, section: ReleaseSection) -> str:
    if not spec.panels:
        return "one person"
    _, panel = release_panel(spec, section)
    return "one person" + (f" in one {panel.period.column_name.replace('_', ' ')}" if panel.period else "")


def build_report(
    release_id: str,
    name: str,
    section: ReleaseSection,
    spec: ProjectSpec,
    spec_sha256: str,
    result: DeidResult,
    after: RiskMeasure,
    panel: dict[str, int],
    provenance: dict[str, Any],
    created_at: str,
    created_by: str,
) -> dict[str, Any]:
    """The report as JSON-ready data; `after` is the risk recomputed from the stored release file."""
    policy = result.policy
    described = _described(spec, section)
    levels = result.levels()
    variables: list[dict[str, Any]] = [
        {"name": PSEUDONYM, "role": "pseudonym",
         "description": f"Pseudonym of the person in this release only ({section.pseudonyms} per release); two "
                        "releases cannot be joined on it"}
    ]  # fmt: skip
    for column, role in _roles(section).items():
        if column == PSEUDONYM:
            continue
        entry: dict[str, Any] = {"name": column, "role": role}
        if column in described:
            entry["description"] = described[column].description
            entry["origin"] = described[column].origin
        if column in levels:
            entry["generalisation"] = levels[column]
        if column in result.transforms:
            entry["transform"] = result.transforms[column]
        if column in policy.l_required:
            entry["l_diversity"] = policy.l_required[column]
        variables.append(entry)
    chosen = result.chosen
    total = chosen.rows
    kept = result.chosen.kept_sizes if result.chosen.kept_sizes is not None else np.zeros(0, dtype=np.int64)
    kept_rows = int(kept.sum())
    return {
        "release_id": release_id,
        "section": name,
        "title": section.title,
        "recipient": section.recipient,
        "recipient_name": spec.recipients[section.recipient].name,
        "release_model": str(section.release_model),
        "panel_name": release_panel(spec, section)[0] if spec.panels else None,
        "period_column": period_column(spec, section),
        "method": METHOD,
        "created_at": created_at,
        "created_by": created_by,
        "spec_sha256": spec_sha256,
        "section_sha256": section_sha256(section),
        "software_version": __version__,
        "quasi_identifier_columns": [x.column for x in section.quasi_identifiers],
        "sensitive_columns": list(section.sensitive),
        "other_columns": list(section.columns),
        "pseudonym_column": PSEUDONYM,
        "direct_identifiers_removed": direct_identifiers(spec),
        "threshold": {
            "invasion_level": str(spec.thresholds.invasion_level),
            "risk_threshold": policy.threshold,
            "measure": policy.criterion.measure,
            "strict_average_row_cap": policy.criterion.row_cap,
            "data_risk_target": policy.criterion.data_risk_target,
            "smallest_class_allowed": policy.criterion.min_class_size,
            "suppression_limit": policy.suppression_limit,
            "l_diversity": policy.l_required,
            "protected_groups": list(section.protect),
        },
        "context": policy.context.as_dict(),
        "variables": variables,
        "risk_before": result.risk_before.as_dict(),
        "risk_after": after.as_dict(),
        "meets_threshold": after.meets_threshold,
        "transformations": {
            "strategy": result.search.strategy,
            "levels": levels,
            "numeric": result.transforms,
            "pseudonyms": section.pseudonyms,
            "lattice_size": result.search.lattice_size,
            "nodes_evaluated": result.search.evaluations,
            "nodes_pruned_by_monotonicity": result.search.pruned_by_monotonicity,
            "optimal": result.search.optimal,
        },
        "suppression": {
            "rows": chosen.suppressed_rows,
            "share": chosen.suppressed_rows / total if total else 0.0,
            "classes": chosen.suppressed_classes,
            "limit": policy.suppression_limit,
            "share_within_protected_groups": chosen.protected_share,
        },
        "utility": {
            "information_loss": round(chosen.loss, 6),
            "information_loss_by_quasi_identifier": result.loss_by_column,
            "rows_kept_share": kept_rows / total if total else 0.0,
            "average_class_size": kept_rows / len(kept) if len(kept) else 0.0,
            "discernibility": float((kept.astype(np.float64) ** 2).sum() + chosen.suppressed_rows * total),
            "metric": "ARX Loss: per cell, (values merged into its group - 1) / (distinct values - 1); a "
            "suppressed row counts as fully lost",
        },  # fmt: skip
        "counts": {
            "panel_rows": panel.get("rows", total),
            "rows_released": after.rows,
            "rows_suppressed": chosen.suppressed_rows,
            "persons_released": result.persons,
        },
        "panel": panel,
        "inputs": provenance,
        "timings_seconds": result.timings,
    }


def build_dictionary(
    release_id: str, section: ReleaseSection, spec: ProjectSpec, table_schema: pa.Schema, result: DeidResult
) -> dict[str, Any]:
    """Column by column: type, role, meaning, the generalisation applied and the labels it can take."""
    described = _described(spec, section)
    roles = _roles(section)
    by_column = {h.column: (h, lvl) for h, lvl in zip(result.hierarchies, result.chosen.levels, strict=True)}
    code_lists = {x.column: x.code_list for x in section.quasi_identifiers}
    columns: list[dict[str, Any]] = []
    for field in table_schema:
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        entry: dict[str, Any] = {"name": field.name, "type": str(kind), "role": roles.get(field.name, "program")}
        if field.name == PSEUDONYM:
            entry["description"] = "Pseudonym of the person, valid in this release only"
        elif field.name in described:
            entry["description"] = described[field.name].description
        if field.name in by_column:
            h, level = by_column[field.name]
            labels = [lab for lab in h.labels[level] if lab is not None]
            entry["generalisation"] = h.names[level]
            entry["labels"] = labels if len(labels) <= 100 else f"{len(labels)} labels"
            code_list = code_lists.get(field.name)
            if level == 0 and code_list and code_list in spec.code_lists:
                entry["code_list"] = code_list
        if field.name in result.transforms:
            entry["transform"] = result.transforms[field.name]
        columns.append(entry)
    return {"release_id": release_id, "rows_are": _rows_are(spec, section), "columns": columns}


def dictionary_markdown(dictionary: dict[str, Any]) -> str:
    lines = [f"# Data dictionary of release {dictionary['release_id']}", "",
             f"Each row is {dictionary['rows_are']}.", "", "| column | type | role | meaning | values |",
             "|---|---|---|---|---|"]  # fmt: skip
    for column in dictionary["columns"]:
        values = column.get("generalisation", "")
        if isinstance(column.get("labels"), list):
            values += ": " + ", ".join(str(v) for v in column["labels"][:30])
        if "transform" in column:
            values += " " + json.dumps(column["transform"])
        meaning = str(column.get("description", "")).replace("|", "/")
        lines.append(f"| {column['name']} | {column['type']} | {column['role']} | {meaning} | {values.strip()} |")
    return "\n".join(lines) + "\n"


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("linkhaven.deid", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(report: dict[str, Any], dictionary: dict[str, Any]) -> str:
    return _ENV.get_template("report.html.j2").render(report=report, dictionary=dictionary)


def software() -> dict[str, str]:
    return {
        "linkhaven": __version__,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
    }


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return sha256_file(path)
