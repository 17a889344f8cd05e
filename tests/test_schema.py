"""The tables declared in linkhaven.schema match what the Alembic migrations build.

Migrations are history and the declarations are what queries use; a column added to one and not
the other would otherwise surface only when a query touches it on a real store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, Table

from linkhaven import schema
from linkhaven.workspace import store


def _diff(db: Path) -> list[Any]:
    engine = store.connect(db)
    store.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, schema.metadata) if not _is_alembic_version(d)]


def _is_alembic_version(diff: Any) -> bool:
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version"


def test_declared_metadata_matches_the_migrated_store(tmp_path: Path) -> None:
    assert _diff(tmp_path / "meta.db") == []


def test_a_column_declared_but_not_migrated_is_caught(tmp_path: Path) -> None:
    extra = Column("not_migrated", Integer, nullable=True)
    table: Table = schema.users
    table.append_column(extra)
    try:
        diff = _diff(tmp_path / "meta.db")
    finally:
        table._columns.remove(extra)  # undo, so other tests see the real declaration
    assert len(diff) == 1 and "not_migrated" in str(diff[0])


def test_every_register_table_is_declared_once_on_one_metadata() -> None:
    names = [t.name for t in schema.metadata.sorted_tables]
    assert len(names) == len(set(names))
    exported = {name for name in schema.__all__ if name != "metadata"}
    assert {getattr(schema, name).name for name in exported} == set(names)
