"""One user per (tenant, subject), enforced by the database, not only by the application.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Service accounts have no subject: NULLs never collide (PostgreSQL and SQLite alike).
    with op.batch_alter_table("accounts") as batch:
        batch.create_unique_constraint("uq_accounts_tenant_subject", ["tenant", "subject"])


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("uq_accounts_tenant_subject", type_="unique")
