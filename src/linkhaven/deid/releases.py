"""Releases in a workspace: create, approve, grant, revoke, read; each a gate that audits what it decides.

The public face of the release modules, one concept each: `release_inputs` (what a release is
built from), `release_build` (creating one), `release_artefacts` (report, dictionary, manifest,
register row and their integrity checks), `release_lifecycle` (the privacy officer's approve,
grant and revoke) and `release_access` (listing, showing and reading), over `release_records`
(the register as the library reports it).
"""

from linkhaven.deid.release_access import list_releases, open_release, read_release, show_release
from linkhaven.deid.release_build import create_release, create_release_from_panel, pseudonym_key
from linkhaven.deid.release_inputs import read_inputs
from linkhaven.deid.release_lifecycle import approve_release, grant_release, revoke_release
from linkhaven.deid.release_records import ARTEFACTS_DIR, STATUSES, ZONE, ReadReceipt, ReleaseData, ReleaseInfo

__all__ = [
    "ARTEFACTS_DIR",
    "STATUSES",
    "ZONE",
    "ReadReceipt",
    "ReleaseData",
    "ReleaseInfo",
    "approve_release",
    "create_release",
    "create_release_from_panel",
    "grant_release",
    "list_releases",
    "open_release",
    "pseudonym_key",
    "read_inputs",
    "read_release",
    "revoke_release",
    "show_release",
]
