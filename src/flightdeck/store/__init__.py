"""The shared store: SQLAlchemy models, async sessions and Alembic migrations."""

from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey, Base

__all__ = ["ApiKey", "Base", "Store"]
