"""The search plane: tenant-owned collections over media stores, FAISS indexes, ``/v1/search``.

Search serving reads what the media pipeline wrote and never writes to it.
"""

from flightdeck.search.collections import CollectionStore
from flightdeck.search.engine import SearchEngine
from flightdeck.search.query import SearchQuery, parse_search

__all__ = ["CollectionStore", "SearchEngine", "SearchQuery", "parse_search"]
