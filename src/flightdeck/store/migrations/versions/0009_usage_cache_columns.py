"""Usage records and the daily rollup learn the response cache: its result and the saved cost.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_INCLUDE = [
    "model_group",
    "key_id",
    "status",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost",
]
NEW_INCLUDE = [*OLD_INCLUDE, "cache_result", "saved_cost"]


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.add_column(sa.Column("cache_result", sa.String(16), nullable=True))
        table.add_column(
            sa.Column("saved_cost", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("usage_daily") as table:
        table.add_column(
            sa.Column("cache_hits", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
        table.add_column(
            sa.Column("saved_cost", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
    _covering_index(NEW_INCLUDE)


def downgrade() -> None:
    _covering_index(OLD_INCLUDE)
    with op.batch_alter_table("usage_daily") as table:
        table.drop_column("saved_cost")
        table.drop_column("cache_hits")
    with op.batch_alter_table("usage_records") as table:
        table.drop_column("saved_cost")
        table.drop_column("cache_result")


def _covering_index(include: list[str]) -> None:
    """PostgreSQL: the (tenant, ts) index covers what usage queries read (index-only scans)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_usage_records_tenant_ts", "usage_records")
    op.create_index(
        "ix_usage_records_tenant_ts", "usage_records", ["tenant", "ts"], postgresql_include=include
    )
