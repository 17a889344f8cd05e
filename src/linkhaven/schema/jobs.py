"""The service's jobs: long work (intake, linkage, release building, publication) run for a user.

A job records what was asked, by whom, how far it got and how it ended; never a personal value
(parameters are source names, section and release ids, and the name of an uploaded file)."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from linkhaven.schema.base import metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("user", String(64), ForeignKey("users.name"), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("state", String(16), nullable=False),  # queued, running, done, failed, cancelled
    Column("stage", String(200), nullable=False),
    Column("steps_done", Integer, nullable=False),
    Column("submitted_at", String(32), nullable=False),
    Column("started_at", String(32), nullable=True),
    Column("finished_at", String(32), nullable=True),
    Column("elapsed_seconds", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),  # of a failed job: the library error's (2 spec, 3 refused, 4 gate)
    Column("result", Text, nullable=True),  # JSON
)

Index("ix_jobs_state", jobs.c.state)
