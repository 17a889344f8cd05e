"""Publication: indicator tables from an approved release, protected so no hidden cell can be recovered.

Public API (everything else is internal):

- `publish_release(ws, release_id)`: the unit's command (`linkhaven publish --release ID`): compute the
  spec's indicators, suppress (primary, complementary), audit against every earlier publication,
  write `<workspace>/publications/<ID>/`, and record the publication and its cells in the ledger.
- `list_publications(ws)`: the publications and their folders.
- `publish_panel(panel, spec, folder)`: the same without a workspace or ledger record (rehearsals, benchmarks).
- `reaudit(folder, earlier)`: rerun the attacker audit from the published files alone.
- The engine, for tests and other tables: `compute`, `protect`, `gate`, `audit`, `Settings`, `CellSystem`.
"""

from linkhaven.publish.audit import AuditResult, Knowledge, audit
from linkhaven.publish.cells import CellSystem, Status, SumKind, cell_key
from linkhaven.publish.files import reaudit
from linkhaven.publish.indicators import Computed, compute
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.protection import Protected, gate, protect
from linkhaven.publish.publication import list_publications, publish_panel, publish_release
from linkhaven.publish.rehearsal import rehearsal_panel
from linkhaven.publish.settings import PublicationRefused, Settings
from linkhaven.publish.suppress import Rules, primary, secondary

__all__ = [
    "AuditResult",
    "CellSystem",
    "Computed",
    "Knowledge",
    "Ledger",
    "Protected",
    "PublicationRefused",
    "Rules",
    "Settings",
    "Status",
    "SumKind",
    "audit",
    "cell_key",
    "compute",
    "gate",
    "list_publications",
    "primary",
    "protect",
    "publish_panel",
    "publish_release",
    "reaudit",
    "rehearsal_panel",
    "secondary",
]
