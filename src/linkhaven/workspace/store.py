"""The metadata store: users, audit events, registers. SQLite through SQLAlchemy by default.

The schema is declared once here (SQLAlchemy Core) for queries, and evolved by Alembic
migrations in `migrations/versions`, so a workspace created by an older linkhaven is upgraded
in place when it is opened. No table here ever holds a personal value: identifiers and program
data live only in the encrypted zones.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

metadata = MetaData()

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

MIGRATIONS = Path(__file__).with_name("migrations")


def connect(db_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{db_path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; cheap when it is already there."""
    config = _alembic_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.begin() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
        if current == heads:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
