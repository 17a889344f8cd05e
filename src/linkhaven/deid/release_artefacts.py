"""A release's plain artefacts (report, dictionary, manifest) and its register row, and their checks.

The artefacts are written in the scratch space and moved into `<workspace>/releases/<ID>/` whole;
their hashes and the encrypted data file's are registered, and every later gate re-checks them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from linkhaven.deid import report as reports
from linkhaven.deid.engine import DeidResult
from linkhaven.deid.release_records import ARTEFACTS_DIR, ZONE
from linkhaven.deid.risk import RiskMeasure
from linkhaven.errors import GateRefused
from linkhaven.spec import ProjectSpec
from linkhaven.spec.releases import ReleaseSection
from linkhaven.workspace.workspace import Workspace, now


def write_artefacts(
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


def register_row(
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


def verified_report(ws: Workspace, conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
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
