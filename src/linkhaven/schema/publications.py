"""The release ledger tables (R47): every publication, the cells it published or hid, and the constraints tying them.

They store keys, statuses and published values only, never the true value of a hidden cell: those
are small counts of children, and the metadata store is not encrypted."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from linkhaven.schema.base import metadata

publications = Table(
    "publications",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("release_id", String(32), nullable=False),
    Column("folder", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("tables", Integer, nullable=False),
    Column("cells", Integer, nullable=False),
    Column("cells_published", Integer, nullable=False),
    Column("cells_primary", Integer, nullable=False),
    Column("cells_secondary", Integer, nullable=False),
    Column("min_cell_size", Integer, nullable=False),
    Column("protection_level", Integer, nullable=False),
    Column("rounding_base", Integer, nullable=True),
    Column("audit_passed", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(64), nullable=False),
)

ledger_cells = Table(
    "publication_cells",
    metadata,
    Column("publication_id", String(16), primary_key=True),
    Column("cell", String(400), primary_key=True),
    Column("table_name", String(128), nullable=False),
    Column("status", String(24), nullable=False),
    Column("value", Float, nullable=True),
)
Index("ix_publication_cells_cell", ledger_cells.c.cell)  # migration 0005

ledger_constraints = Table(
    "publication_constraints",
    metadata,
    Column("publication_id", String(16), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("cell", String(400), nullable=False),
    Column("others", Text, nullable=False),
)
