"""Identities bound to their issuer, explicit shares of media stores, two levels of limits.

- ``accounts.issuer``: a user is (tenant, issuer, subject); existing users get the issuer ``""``
  until the server adopts them at start-up (``auth/legacy.py``: ``[auth.oauth] legacy_issuer``,
  else the first configured issuer).
- ``assistant_conversations.owner_issuer``: the same for OAuth users' conversations.
- ``store_shares``: a platform admin's share of a media store with a tenant that does not own it.
- ``limit_policies.level``: ``ceiling`` (platform-set) or ``tenant`` (tenant-set, never above the
  ceiling). Existing rows become ceilings: who set them is not recorded, and a tenant admin must
  not be able to lift a limit that may have been a platform admin's.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("issuer", sa.String(500), nullable=True))
        batch.drop_constraint("uq_accounts_tenant_subject", type_="unique")
        batch.create_unique_constraint(
            "uq_accounts_tenant_issuer_subject", ["tenant", "issuer", "subject"]
        )
    op.execute("UPDATE accounts SET issuer = '' WHERE kind = 'user'")

    with op.batch_alter_table("assistant_conversations") as batch:
        batch.add_column(sa.Column("owner_issuer", sa.String(500), nullable=True))
        batch.alter_column(
            "owner_user", type_=sa.String(255), existing_type=sa.String(200), existing_nullable=True
        )
    op.execute(
        "UPDATE assistant_conversations SET owner_issuer = '' "
        "WHERE owner_key_id IS NULL AND owner_user IS NOT NULL"
    )

    op.create_table(
        "store_shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uri", sa.String(2000), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_store_shares_tenant_name"),
        sa.UniqueConstraint("tenant", "uri", name="uq_store_shares_tenant_uri"),
    )
    op.create_index("ix_store_shares_tenant", "store_shares", ["tenant"])

    with op.batch_alter_table("limit_policies") as batch:
        batch.add_column(
            sa.Column("level", sa.String(20), nullable=False, server_default="ceiling")
        )
        batch.drop_constraint("uq_limit_policies_scope", type_="unique")
        batch.create_unique_constraint(
            "uq_limit_policies_scope_level", ["tenant", "key_id", "level"]
        )


def downgrade() -> None:
    with op.batch_alter_table("limit_policies") as batch:
        batch.drop_constraint("uq_limit_policies_scope_level", type_="unique")
    op.execute("DELETE FROM limit_policies WHERE level = 'tenant'")
    with op.batch_alter_table("limit_policies") as batch:
        batch.drop_column("level")
        batch.create_unique_constraint("uq_limit_policies_scope", ["tenant", "key_id"])
    op.drop_table("store_shares")
    with op.batch_alter_table("assistant_conversations") as batch:
        batch.drop_column("owner_issuer")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("uq_accounts_tenant_issuer_subject", type_="unique")
        batch.drop_column("issuer")
        batch.create_unique_constraint("uq_accounts_tenant_subject", ["tenant", "subject"])
