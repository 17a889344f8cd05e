"""Publications and the release ledger of published cells (linkhaven.publish).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("release_id", sa.String(32), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("tables", sa.Integer, nullable=False),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("cells_published", sa.Integer, nullable=False),
        sa.Column("cells_primary", sa.Integer, nullable=False),
        sa.Column("cells_secondary", sa.Integer, nullable=False),
        sa.Column("min_cell_size", sa.Integer, nullable=False),
        sa.Column("protection_level", sa.Integer, nullable=False),
        sa.Column("rounding_base", sa.Integer, nullable=True),
        sa.Column("audit_passed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    # The ledger keeps keys, statuses and published values; never the true value of a hidden cell.
    op.create_table(
        "publication_cells",
        sa.Column("publication_id", sa.String(16), primary_key=True),
        sa.Column("cell", sa.String(400), primary_key=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
    )
    op.create_index("ix_publication_cells_cell", "publication_cells", ["cell"])
    op.create_table(
        "publication_constraints",
        sa.Column("publication_id", sa.String(16), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("cell", sa.String(400), nullable=False),
        sa.Column("others", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("publication_constraints", "publication_cells", "publications"):
        op.drop_table(name)
