"""The release and disclosure registers (di-standards §3 items 8 and 9): counts, codes and hashes only.

A release row says what was built from which section, its risk figures before and after, where
its files are and who approved or revoked it; grants and reads say who may read it and who did;
the disclosure register records every disclosure made under the spec's legal bases. None of
these tables ever holds a value from the data.
"""

from __future__ import annotations

from linkhaven.schema.releases import disclosures, release_grants, release_reads, releases

__all__ = ["disclosures", "release_grants", "release_reads", "releases"]
