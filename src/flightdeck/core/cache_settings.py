"""Settings of the response cache (``[cache]`` and ``[cache.models."GROUP"]``).

They are a section of the one ``Settings`` object; they live here so ``core.settings`` stays
readable. ``CacheSettings.for_group`` merges a group's overrides over the section's defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Chosen on STS-B train+dev with all-MiniLM-L6-v2 so that wrong hits stay <= 2% of hits;
# measured by bench/cache/run.py quality (docs/benchmarks.md, "Response cache").
DEFAULT_SEMANTIC_THRESHOLD = 0.99


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheGroupSettings(_Section):
    """Overrides for one model group; ``None`` takes the ``[cache]`` value."""

    enabled: bool | None = None
    ttl_seconds: float | None = Field(None, gt=0)
    max_bytes: int | None = Field(None, ge=0)
    semantic: bool | None = None
    semantic_threshold: float | None = Field(None, gt=0, le=1)
    partition_by_key: bool | None = None


class CacheGroup(_Section):
    """The cache options in force for one model group (defaults merged with overrides)."""

    enabled: bool
    ttl_seconds: float
    max_bytes: int
    semantic: bool
    semantic_threshold: float
    partition_by_key: bool


class CacheSettings(_Section):
    """The ``[cache]`` section: the response cache, exact and semantic."""

    enabled: bool = Field(True, description="serve repeated deterministic requests from a cache")
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "fd:cache:"
    redis_timeout_seconds: float = Field(
        0.25, gt=0, description="per Redis call; past it the lookup is a miss"
    )
    probe_seconds: float = Field(1.0, gt=0, description="how often an unreachable Redis is tried")
    max_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="memory backend: all entries together (LRU)"
    )
    max_entry_bytes: int = Field(1024 * 1024, gt=0, description="larger replies are not cached")
    ttl_seconds: float = Field(3600.0, gt=0, description="an entry's life")
    semantic: bool = Field(False, description="semantic cache for every group (opt-in)")
    semantic_threshold: float = Field(
        DEFAULT_SEMANTIC_THRESHOLD, gt=0, le=1, description="least cosine similarity of a hit"
    )
    partition_by_key: bool = Field(
        False, description="semantic hits only among requests of the same API key"
    )
    semantic_max_entries: int = Field(
        100_000, gt=0, description="prompts kept per semantic partition (oldest dropped)"
    )
    exact_max_entries: int = Field(
        4096, ge=0, description="partitions up to this size are searched exactly, larger by HNSW"
    )
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW neighbours per node")
    hnsw_ef_search: int = Field(64, ge=1, description="HNSW candidates per lookup")
    models: dict[str, CacheGroupSettings] = Field(
        default_factory=dict, description="model group -> overrides"
    )

    def for_group(self, group: str) -> CacheGroup:
        """The options in force for ``group``."""
        over = self.models.get(group) or CacheGroupSettings()

        def pick(name: str) -> object:
            value = getattr(over, name)
            return getattr(self, name) if value is None else value

        return CacheGroup.model_validate({name: pick(name) for name in CacheGroup.model_fields})
