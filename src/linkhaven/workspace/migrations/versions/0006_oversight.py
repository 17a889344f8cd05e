"""Oversight registers: project state, assessments, incidents, destruction certificates.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_state",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.String(32), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("completed_on", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("found_on", sa.String(10), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data_affected", sa.Text, nullable=False),
        sa.Column("people_affected", sa.Integer, nullable=False),
        sa.Column("containment", sa.Text, nullable=False),
        sa.Column("individuals_notified_on", sa.String(10), nullable=True),
        sa.Column("ipc_notified_on", sa.String(10), nullable=True),
        sa.Column("lessons", sa.Text, nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "destructions",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("retain_until", sa.String(10), nullable=False),
        sa.Column("destroyed_at", sa.String(32), nullable=False),
        sa.Column("destroyed_by", sa.String(64), nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("hashes", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("destructions", "incidents", "assessments", "project_state"):
        op.drop_table(name)
