"""Linkage registers: runs, map versions, models, clerical review pairs.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_runs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("run_by", sa.String(64), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("software", sa.String(200), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("blocking_rules", sa.Text, nullable=False),
        sa.Column("accept_probability", sa.Float, nullable=False),
        sa.Column("review_lower_probability", sa.Float, nullable=False),
        sa.Column("model_sha256", sa.Text, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("link_rates", sa.Text, nullable=False),
        sa.Column("review_pending", sa.Integer, nullable=False),
        sa.Column("review_decided", sa.Integer, nullable=False),
        sa.Column("clerical_matches", sa.Integer, nullable=False),
        sa.Column("map_table", sa.String(128), nullable=False),
        sa.Column("map_version", sa.Integer, nullable=False),
        sa.Column("report", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "linkage_map_versions",
        sa.Column("run_id", sa.String(16), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("map_table", sa.String(128), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("review_pair", sa.Integer, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "linkage_models",
        sa.Column("run_id", sa.String(16), primary_key=True),
        sa.Column("pair", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("model_json", sa.Text, nullable=False),
    )
    op.create_table(
        "link_review_pairs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(16), nullable=False, index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("left_code", sa.String(64), nullable=False),
        sa.Column("right_code", sa.String(64), nullable=False),
        sa.Column("match_probability", sa.Float, nullable=True),
        sa.Column("match_weight", sa.Float, nullable=True),
        sa.Column("queue_reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("map_version", sa.Integer, nullable=True),
        sa.Column("carried_from", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    for name in ("link_review_pairs", "linkage_models", "linkage_map_versions", "linkage_runs"):
        op.drop_table(name)
