"""Release and disclosure registers: releases, grants, reads, disclosures.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("section", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("release_model", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pseudonyms", sa.String(8), nullable=False),
        sa.Column("data_zone", sa.String(16), nullable=False),
        sa.Column("data_table", sa.String(128), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("dictionary_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("quasi_identifiers", sa.Text, nullable=False),
        sa.Column("sensitive", sa.Text, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("rows_in", sa.Integer, nullable=False),
        sa.Column("rows_released", sa.Integer, nullable=False),
        sa.Column("rows_suppressed", sa.Integer, nullable=False),
        sa.Column("persons", sa.Integer, nullable=False),
        sa.Column("classes", sa.Integer, nullable=False),
        sa.Column("smallest_class", sa.Integer, nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("context_risk", sa.Float, nullable=False),
        sa.Column("data_risk_before", sa.Float, nullable=False),
        sa.Column("data_risk_after", sa.Float, nullable=False),
        sa.Column("overall_risk_before", sa.Float, nullable=False),
        sa.Column("overall_risk_after", sa.Float, nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("approved_at", sa.String(32), nullable=True),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("agreement_id", sa.String(32), nullable=True),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "release_grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release_id", sa.String(16), nullable=False),
        sa.Column("analyst", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.String(32), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("release_id", "analyst", name="uq_release_grants_release_analyst"),
    )
    op.create_table(
        "release_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release_id", sa.String(16), nullable=False),
        sa.Column("reader", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("read_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "disclosures",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("data_class", sa.String(16), nullable=False),
        sa.Column("agreement_id", sa.String(32), nullable=False),
        sa.Column("release_id", sa.String(16), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=True),
        sa.Column("disclosed_on", sa.String(10), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for name in ("disclosures", "release_reads", "release_grants", "releases"):
        op.drop_table(name)
