"""Sealed spec versions: a version number and an HMAC of the version and hash under the audit key.

Versions registered before this migration keep their hash but get no seal (the migration has no
key); a workspace whose latest version is unsealed refuses commands until the privacy officer
registers its spec again with `linkhaven spec update`.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("spec_versions") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    op.execute("UPDATE spec_versions SET version = id")
    op.create_index("ix_spec_versions_version", "spec_versions", ["version"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_spec_versions_version", "spec_versions")
    with op.batch_alter_table("spec_versions") as batch:
        batch.drop_column("mac")
        batch.drop_column("version")
