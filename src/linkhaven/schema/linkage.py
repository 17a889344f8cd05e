"""The linkage registers: runs, map versions, models and clerical review pairs (R19).

They hold what a run did and decided, never a personal value: record codes (random), person-key
table names, probabilities, counts, reason codes, hashes, and the Splink model JSON (parameters
and SQL over column names; `service._check_model` refuses one that embeds a value). Identity
values for review are read from the identity zone at display time, for the linker role only.
Declared here for queries and created by migration 0003.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text

from linkhaven.schema.base import metadata

linkage_runs = Table(
    "linkage_runs",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=False),
    Column("run_by", String(64), nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("software", String(200), nullable=False),
    Column("inputs", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("blocking_rules", Text, nullable=False),
    Column("accept_probability", Float, nullable=False),
    Column("review_lower_probability", Float, nullable=False),
    Column("model_sha256", Text, nullable=False),
    Column("counts", Text, nullable=False),
    Column("link_rates", Text, nullable=False),
    Column("review_pending", Integer, nullable=False),
    Column("review_decided", Integer, nullable=False),
    Column("clerical_matches", Integer, nullable=False),
    Column("map_table", String(128), nullable=False),
    Column("map_version", Integer, nullable=False),
    Column("report", String(255), nullable=False),
    Column("status", String(16), nullable=False),
)

linkage_map_versions = Table(
    "linkage_map_versions",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("map_table", String(128), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("review_pair", Integer, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(64), nullable=False),
)

linkage_models = Table(
    "linkage_models",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("pair", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("model_json", Text, nullable=False),
)

link_review_pairs = Table(
    "link_review_pairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(16), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("left_code", String(64), nullable=False),
    Column("right_code", String(64), nullable=False),
    Column("match_probability", Float, nullable=True),
    Column("match_weight", Float, nullable=True),
    Column("queue_reason", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decision", String(16), nullable=True),
    Column("reason", String(64), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", String(32), nullable=True),
    Column("map_version", Integer, nullable=True),
    Column("carried_from", Integer, nullable=True),
)
