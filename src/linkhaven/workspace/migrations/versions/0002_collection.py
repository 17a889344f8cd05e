"""Collection registers: notices, agreements, deliveries.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("published_on", sa.String(10), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("notice_sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("window_start", sa.String(10), nullable=False),
        sa.Column("window_end", sa.String(10), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parties", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("data_classes", sa.Text, nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_to", sa.String(10), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("file_bytes", sa.Integer, nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("notice_version", sa.Integer, nullable=False),
        sa.Column("agreement_id", sa.String(32), nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_loaded", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("quarantined_by_reason", sa.Text, nullable=False),
        sa.Column("values_set_null", sa.Text, nullable=False),
        sa.Column("columns_dropped", sa.Text, nullable=False),
        sa.Column("identity_table", sa.String(128), nullable=False),
        sa.Column("content_table", sa.String(128), nullable=False),
        sa.Column("quarantine_table", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("supersedes", sa.String(16), nullable=True),
        sa.Column("superseded_by", sa.String(16), nullable=True),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("received_by", sa.String(64), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for name in ("deliveries", "agreements", "notices"):
        op.drop_table(name)
