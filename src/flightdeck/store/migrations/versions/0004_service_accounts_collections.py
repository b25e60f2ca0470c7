"""Keys owned by a service account; tenant-owned search collections.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_collections_tenant_name"),
    )
    op.create_index("ix_collections_tenant", "collections", ["tenant"])


def downgrade() -> None:
    op.drop_table("collections")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("account_id")
