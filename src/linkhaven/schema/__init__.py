"""Every register (metadata store) table, declared once on one `MetaData`.

Stages import their tables from here. The tables are grouped by the register they form: the
workspace's own (users, audit, zone files, spec versions), sign-in (credentials, tokens), the
service's jobs, collection, linkage, releases and disclosures, publications, oversight. None holds
a personal value.
"""

from linkhaven.schema.accounts import credentials, tokens
from linkhaven.schema.base import metadata
from linkhaven.schema.collection import agreements, deliveries, notices
from linkhaven.schema.core import audit_events, spec_versions, users, zone_tables
from linkhaven.schema.jobs import jobs
from linkhaven.schema.linkage import link_review_pairs, linkage_map_versions, linkage_models, linkage_runs
from linkhaven.schema.oversight import assessments, destructions, incidents, project_state
from linkhaven.schema.publications import ledger_cells, ledger_constraints, publications
from linkhaven.schema.releases import disclosures, release_grants, release_reads, releases

__all__ = [
    "agreements",
    "assessments",
    "audit_events",
    "credentials",
    "deliveries",
    "destructions",
    "disclosures",
    "incidents",
    "jobs",
    "ledger_cells",
    "ledger_constraints",
    "link_review_pairs",
    "linkage_map_versions",
    "linkage_models",
    "linkage_runs",
    "metadata",
    "notices",
    "project_state",
    "publications",
    "release_grants",
    "release_reads",
    "releases",
    "spec_versions",
    "tokens",
    "users",
    "zone_tables",
]
