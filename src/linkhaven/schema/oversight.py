"""The oversight registers: project state (suspension), assessments, incidents, destructions.

Like every register, they hold dates, counts, codes and the staff's own descriptions, never data
values. Incident descriptions are typed by people: the CLI reminds them not to include personal
information, and the oversight pack test checks that none reached the pack.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from linkhaven.schema.base import metadata

project_state = Table(
    "project_state",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", String(32), nullable=False),
    Column("changed_by", String(64), nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("title", String(200), nullable=False),
    Column("completed_on", String(10), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("found_on", String(10), nullable=False),
    Column("description", Text, nullable=False),
    Column("data_affected", Text, nullable=False),
    Column("people_affected", Integer, nullable=False),
    Column("containment", Text, nullable=False),
    Column("individuals_notified_on", String(10), nullable=True),
    Column("ipc_notified_on", String(10), nullable=True),
    Column("lessons", Text, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("closed_at", String(32), nullable=True),
)

destructions = Table(
    "destructions",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("target", String(200), nullable=False),
    Column("retain_until", String(10), nullable=False),
    Column("destroyed_at", String(32), nullable=False),
    Column("destroyed_by", String(64), nullable=False),
    Column("method", Text, nullable=False),
    Column("files", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("hashes", Text, nullable=False),
)
