"""Response caching, exact and semantic, isolated per tenant and model group (issue #16).

``ResponseCache`` is the service; ``plan_request`` decides per request; ``canonical_request``
and ``request_hash`` define the exact key; ``MemoryBackend`` and ``RedisBackend`` store
entries; ``SemanticIndex`` finds similar prompts. See docs/caching.md.
"""

from flightdeck.cache.backend import CacheBackend, EntryKey
from flightdeck.cache.entry import CacheEntry
from flightdeck.cache.errors import CacheUnavailable
from flightdeck.cache.keys import SemanticParts, canonical_request, request_hash, semantic_parts
from flightdeck.cache.memory import MemoryBackend
from flightdeck.cache.policy import (
    CACHE_HEADER,
    THRESHOLD_HEADER,
    CachePlan,
    CacheResult,
    is_deterministic,
    plan_request,
)
from flightdeck.cache.redis_store import RedisBackend
from flightdeck.cache.semantic import PartitionKey, SemanticIndex, SemanticMatch
from flightdeck.cache.service import CacheHit, ResponseCache, TextEncoder, sentence_encoder
from flightdeck.cache.streams import StreamRecorder, assemble_reply, split_reply

__all__ = [
    "CACHE_HEADER",
    "THRESHOLD_HEADER",
    "CacheBackend",
    "CacheEntry",
    "CacheHit",
    "CachePlan",
    "CacheResult",
    "CacheUnavailable",
    "EntryKey",
    "MemoryBackend",
    "PartitionKey",
    "RedisBackend",
    "ResponseCache",
    "SemanticIndex",
    "SemanticMatch",
    "SemanticParts",
    "StreamRecorder",
    "TextEncoder",
    "assemble_reply",
    "canonical_request",
    "is_deterministic",
    "plan_request",
    "request_hash",
    "semantic_parts",
    "sentence_encoder",
    "split_reply",
]
