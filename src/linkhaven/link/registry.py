"""The linkage registers: runs, map versions, models and clerical review pairs (R19).

They hold what a run did and decided, never a personal value: record codes (random), person-key
table names, probabilities, counts, reason codes, hashes, and the Splink model JSON (parameters
and SQL over column names; `service._check_model` refuses one that embeds a value). Identity
values for review are read from the identity zone at display time, for the linker role only.
Declared in linkhaven.schema.linkage (re-exported here) and created by migration 0003.
"""

from __future__ import annotations

from linkhaven.schema.linkage import link_review_pairs, linkage_map_versions, linkage_models, linkage_runs

__all__ = ["link_review_pairs", "linkage_map_versions", "linkage_models", "linkage_runs"]
