"""The workspace's own tables: users and roles, the audit chain, the zone file register, the spec register.

No table here ever holds a personal value: identifiers and program data live only in the encrypted
zones. The audit chain and spec register are sealed with the audit key (see governance.audit)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from linkhaven.schema.base import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("added_at", String(32), nullable=False),
    Column("added_by", String(64), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
)

zone_tables = Table(
    "zone_tables",
    metadata,
    Column("zone", String(16), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(64), nullable=False),
)

spec_versions = Table(
    "spec_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("loaded_at", String(32), nullable=False),
    Column("loaded_by", String(64), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ...; a unique index (migration 0007)
    Column("mac", String(64), nullable=True),  # HMAC of "spec VERSION SHA256" under the audit key
)

Index("ix_spec_versions_version", spec_versions.c.version, unique=True)  # migration 0007
