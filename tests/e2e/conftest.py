from tests.tenancy_support.services import pg_database  # noqa: F401
