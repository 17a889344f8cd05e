"""De-identification: the panels a spec declares, IPC 2016 risk, the generalisation lattice, releases.

Public API (everything else is internal):

- `create_release(ws, section)` builds a release from the zones and the linkage map; the privacy
  officer's `approve_release`, `grant_release`, `revoke_release` govern it; `read_release` writes
  an analyst's plain copy; `list_releases` / `show_release` describe releases.
- `open_release(ws, release_id, session=None) -> ReleaseData` is how publication reads an approved
  release: `.table` (Arrow, one row per person (and period) of its panel, the pseudonym in `person_id`),
  `.report` (the de-identification report as data) and `.info` (status, file paths, the
  quasi-identifier and sensitive columns and the threshold).
- `disclose` / `list_disclosures`: the disclosure register.
- `plan_panel`, `build_panel`, `deidentify`, `measure`, `context_risk`: the workspace-free engine, for rehearsals.
"""

from linkhaven.deid.disclosure import Disclosure, disclose, list_disclosures
from linkhaven.deid.engine import PSEUDONYM, DeidResult, Policy, deidentify
from linkhaven.deid.panel import PanelInputs, PanelPlan, PanelStats, build_panel, plan_panel
from linkhaven.deid.releases import (
    ReadReceipt,
    ReleaseData,
    ReleaseInfo,
    approve_release,
    create_release,
    create_release_from_panel,
    grant_release,
    list_releases,
    open_release,
    read_release,
    revoke_release,
    show_release,
)
from linkhaven.deid.risk import ContextRisk, Criterion, RiskMeasure, context_risk, measure, measure_relation

__all__ = [
    "PSEUDONYM",
    "ContextRisk",
    "Criterion",
    "DeidResult",
    "Disclosure",
    "PanelInputs",
    "PanelPlan",
    "PanelStats",
    "Policy",
    "ReadReceipt",
    "ReleaseData",
    "ReleaseInfo",
    "RiskMeasure",
    "approve_release",
    "build_panel",
    "context_risk",
    "create_release",
    "create_release_from_panel",
    "deidentify",
    "disclose",
    "grant_release",
    "list_disclosures",
    "list_releases",
    "measure",
    "measure_relation",
    "open_release",
    "plan_panel",
    "read_release",
    "revoke_release",
    "show_release",
]
