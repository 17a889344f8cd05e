"""What a release is built from: the current deliveries' content tables, base identity values, the map.

Which sources and fields are read follows from the release's panel (`deid.panel.plan_panel`):
each content table is a loader that decodes only the fields the panel reads, and the only
identity values read are those of the base source the panel generalises at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pyarrow as pa

from linkhaven.deid.panel import MAP_COLUMNS, PanelInputs, PanelPlan, TableSource
from linkhaven.errors import WorkspaceError
from linkhaven.workspace.workspace import Workspace


def _linkage_map(ws: Workspace, provenance: dict[str, Any]) -> Callable[[], pa.Table]:
    """A loader of the linkage stage's current map; the run it comes from goes into `provenance`."""
    from linkhaven.link import current_map, current_run

    run = current_run(ws)
    if run is None:
        raise WorkspaceError("There is no linkage map yet: run `linkhaven link` (linker role) first.")
    provenance["linkage"] = {"kind": "linkage stage", "run_id": run["id"], "map_version": run["map_version"]}

    def load() -> pa.Table:
        table = current_map(ws, MAP_COLUMNS)
        # The run the map read belongs to (a run may have finished since the check above).
        metadata = table.schema.metadata or {}
        if b"run_id" in metadata and b"map_version" in metadata:
            provenance["linkage"].update(run_id=metadata[b"run_id"].decode(), map_version=int(metadata[b"map_version"]))
        provenance["linkage"]["rows"] = table.num_rows
        return table

    return load


def read_inputs(
    ws: Workspace, plan: PanelPlan, linkage_map: pa.Table | None = None
) -> tuple[PanelInputs, dict[str, Any]]:
    """Loaders of the current deliveries' content tables of the sources `plan` reads, of the base identity
    values it generalises, and of the map; the provenance says which tables (and which linkage run) they are."""
    from linkhaven.intake import current_deliveries

    provenance: dict[str, Any] = {"kind": "workspace zones", "deliveries": {}, "tables": {}}
    content: dict[str, TableSource | None] = {}
    identity: TableSource | None = None
    for source in plan.reads:
        found = current_deliveries(ws, source)
        provenance["deliveries"][source] = [d.id for d in found]
        if not found:
            if source == plan.base:
                raise WorkspaceError(
                    f"No delivery of '{source}', the base source of panel '{plan.name}', is loaded; the panel has "
                    "no rows. Take one in first."
                )
            content[source] = None
            continue
        # Loaders: the panel builder decodes one input at a time, only the columns it reads.
        content[source] = partial(ws.zone("content").read_many, [d.content_table for d in found], plan.columns(source))
        provenance["tables"][source] = [d.content_table for d in found]
        if source == plan.base and plan.identity_fields:
            identity = partial(ws.zone("identity").read_many, [d.identity_table for d in found], plan.identity_columns)
    mapping: TableSource
    if linkage_map is None:
        mapping = _linkage_map(ws, provenance)
    else:
        provenance["linkage"] = {"kind": "supplied by the caller", "rows": linkage_map.num_rows}
        mapping = linkage_map
    return PanelInputs(content, identity, mapping), provenance
