from tests.tenancy_support.services import redis_prefix  # noqa: F401
