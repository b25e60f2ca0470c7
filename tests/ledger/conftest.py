from __future__ import annotations

from tests.tenancy_support.services import pg_database, pg_url, store, tenant  # noqa: F401
