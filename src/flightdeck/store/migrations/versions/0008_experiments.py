"""Experiments: definitions, exposures, requests (links to usage records), feedback.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("surface", sa.String(20), nullable=False),
        sa.Column("target_kind", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("variants", sa.Text(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("layer", sa.String(200), nullable=False),
        sa.Column("ns_start", sa.Float(), nullable=False),
        sa.Column("ns_end", sa.Float(), nullable=False),
        sa.Column("hash_version", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(200), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("started_at", Stamp, nullable=True),
        sa.Column("stopped_at", Stamp, nullable=True),
        sa.UniqueConstraint("tenant", "key", name="uq_experiments_tenant_key"),
    )
    op.create_table(
        "experiment_exposures",
        sa.Column("experiment_id", sa.Integer(), primary_key=True),
        sa.Column("unit", sa.String(255), primary_key=True),
        sa.Column("variant", sa.String(200), nullable=False),
        sa.Column("ts", Stamp, nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
    )
    op.create_table(
        "experiment_requests",
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), primary_key=True),
        sa.Column("variant", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(255), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_experiment_requests_experiment", "experiment_requests", ["experiment_id"])
    op.create_index("ix_experiment_requests_response", "experiment_requests", ["response_id"])
    op.create_table(
        "experiment_feedback",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("ts", Stamp, nullable=False),
    )
    op.create_index(
        "ix_experiment_feedback_response", "experiment_feedback", ["tenant", "response_id"]
    )


def downgrade() -> None:
    op.drop_table("experiment_feedback")
    op.drop_table("experiment_requests")
    op.drop_table("experiment_exposures")
    op.drop_table("experiments")
