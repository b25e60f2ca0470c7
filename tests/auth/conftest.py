"""Store fixtures on SQLite and PostgreSQL for the auth tests."""

from tests.tenancy_support.services import pg_database, store, tenant  # noqa: F401
