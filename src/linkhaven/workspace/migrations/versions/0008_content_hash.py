"""Deliveries record a canonical content hash, so a re-sent extract is caught whatever its bytes.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_deliveries_content_sha256", ["content_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_content_sha256", type_="unique")
        batch.drop_column("content_sha256")
