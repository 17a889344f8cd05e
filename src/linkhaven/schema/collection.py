"""The collection registers: notices, agreements and deliveries (di-standards §3 items 2–4).

These tables describe what was collected, under which notice and agreement, and what became of
every row. They hold counts, hashes, names of columns and reason codes, never values.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from linkhaven.schema.base import metadata

notices = Table(
    "notices",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("published_on", String(10), nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("notice_sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("window_start", String(10), nullable=False),
    Column("window_end", String(10), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parties", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("data_classes", Text, nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_to", String(10), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64), nullable=False, unique=True),
    Column("content_sha256", String(64), nullable=True, unique=True),
    Column("file_bytes", Integer, nullable=False),
    Column("encoding", String(16), nullable=False),
    Column("notice_version", Integer, nullable=False),
    Column("agreement_id", String(32), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("quarantined_by_reason", Text, nullable=False),
    Column("values_set_null", Text, nullable=False),
    Column("columns_dropped", Text, nullable=False),
    Column("identity_table", String(128), nullable=False),
    Column("content_table", String(128), nullable=False),
    Column("quarantine_table", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("supersedes", String(16), nullable=True),
    Column("superseded_by", String(16), nullable=True),
    Column("received_at", String(32), nullable=False),
    Column("received_by", String(64), nullable=False),
    Column("spec_sha256", String(64), nullable=False),
)
