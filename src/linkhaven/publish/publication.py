"""Running a publication: from an approved release (`publish_release`) or a panel (`publish_panel`).

`publish_release` is the unit's command. It opens a governance session (publish.run), reads an
approved release, protects the spec's indicators against every earlier publication (`protection`),
writes `<workspace>/publications/<ID>/` (`files`), and registers the publication, its cells and the
audit event in one transaction. `publish_panel` does the same without a workspace, for rehearsals
and benchmarks.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import func, insert, select

from linkhaven.errors import LinkhavenError
from linkhaven.governance.audit import anchored_head
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, audit_log, open_session
from linkhaven.publish import ledger as ledger_store
from linkhaven.publish.cells import Status
from linkhaven.publish.files import MANIFEST, PUBLICATIONS_DIR, sha256_of, write_publication
from linkhaven.publish.indicators import compute
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.protection import Protected, gate, ledger_entries, protect
from linkhaven.publish.settings import Settings, _indicators, code_lists_of, code_names_of
from linkhaven.schema import publications
from linkhaven.spec.project import ProjectSpec
from linkhaven.workspace.workspace import Workspace, now


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
        from linkhaven.spec import load_spec  # at call time: tests replace it to publish a rehearsal spec

        spec = load_spec(ws.spec_path())
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
                manifest_sha256=sha256_of(folder / MANIFEST),
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


