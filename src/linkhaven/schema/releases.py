"""The release and disclosure registers (di-standards §3 items 8 and 9): counts, codes and hashes only.

A release row says what was built from which section, its risk figures before and after, where
its files are and who approved or revoked it; grants and reads say who may read it and who did;
the disclosure register records every disclosure made under the spec's legal bases. None of
these tables ever holds a value from the data.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text, UniqueConstraint

from linkhaven.schema.base import metadata

releases = Table(
    "releases",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("section", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("release_model", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pseudonyms", String(8), nullable=False),
    Column("data_zone", String(16), nullable=False),
    Column("data_table", String(128), nullable=False),
    Column("data_sha256", String(64), nullable=False),
    Column("report_sha256", String(64), nullable=False),
    Column("dictionary_sha256", String(64), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("quasi_identifiers", Text, nullable=False),
    Column("sensitive", Text, nullable=False),
    Column("columns", Text, nullable=False),
    Column("rows_in", Integer, nullable=False),
    Column("rows_released", Integer, nullable=False),
    Column("rows_suppressed", Integer, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("classes", Integer, nullable=False),
    Column("smallest_class", Integer, nullable=False),
    Column("measure", String(16), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("context_risk", Float, nullable=False),
    Column("data_risk_before", Float, nullable=False),
    Column("data_risk_after", Float, nullable=False),
    Column("overall_risk_before", Float, nullable=False),
    Column("overall_risk_after", Float, nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("approved_at", String(32), nullable=True),
    Column("approved_by", String(64), nullable=True),
    Column("agreement_id", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
    Column("revoked_by", String(64), nullable=True),
    Column("revoke_reason", Text, nullable=True),
)

release_grants = Table(
    "release_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release_id", String(16), nullable=False),
    Column("analyst", String(64), nullable=False),
    Column("granted_at", String(32), nullable=False),
    Column("granted_by", String(64), nullable=False),
    UniqueConstraint("release_id", "analyst", name="uq_release_grants_release_analyst"),
)

release_reads = Table(
    "release_reads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release_id", String(16), nullable=False),
    Column("reader", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("read_at", String(32), nullable=False),
)

disclosures = Table(
    "disclosures",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("recipient", String(64), nullable=False),
    Column("basis", String(32), nullable=False),
    Column("data_class", String(16), nullable=False),
    Column("agreement_id", String(32), nullable=False),
    Column("release_id", String(16), nullable=True),
    Column("description", Text, nullable=False),
    Column("rows", Integer, nullable=True),
    Column("disclosed_on", String(10), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)
