"""Whether and how one request uses the cache: read, write, neither, and the result to report.

A request is cacheable when it is deterministic (``temperature`` 0, or a ``seed``) or when the
caller opts in with ``x-flightdeck-cache: use``. The client's ``Cache-Control`` request
directives are honoured as RFC 9111 section 5.2.1 defines them: ``no-store`` neither reads nor
writes (result ``bypass``), ``no-cache`` does not read but stores the fresh reply (``refresh``).
``x-flightdeck-cache: bypass | refresh`` say the same for clients that cannot set
``Cache-Control``. ``x-flightdeck-cache-threshold`` may raise the group's semantic threshold for
one request, never lower it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from flightdeck.cache.keys import SemanticParts, request_hash, semantic_parts
from flightdeck.core.cache_settings import CacheGroup, CacheSettings
from flightdeck.core.errors import InvalidRequest

CacheResult = Literal["hit", "semantic-hit", "miss", "bypass", "refresh"]
CACHE_HEADER = "x-flightdeck-cache"
THRESHOLD_HEADER = "x-flightdeck-cache-threshold"
CACHE_CONTROL = "cache-control"
MODES = ("use", "bypass", "refresh")


@dataclass(slots=True)
class CachePlan:
    """What the cache does for one request. ``result`` starts as ``bypass``, ``refresh`` or
    ``miss`` and becomes ``hit`` or ``semantic-hit`` when a lookup finds an entry."""

    tenant: str
    model_group: str
    key_id: int | None
    group: CacheGroup
    read: bool
    write: bool
    result: CacheResult
    request_hash: str = ""
    semantic: SemanticParts | None = None
    threshold: float = 1.0
    include_usage: bool = False
    vector: NDArray[np.float32] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        """Whether the cache reads or writes anything for this request."""
        return self.read or self.write


def plan_request(
    settings: CacheSettings,
    *,
    tenant: str,
    model_group: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
    key_id: int | None = None,
) -> CachePlan:
    """Decide for a chat completions ``body`` with request ``headers`` (lower-case names, as
    Starlette gives them). Raises InvalidRequest (400) for a bad cache header value."""
    group = settings.for_group(model_group)
    mode = _mode(headers)
    threshold = _threshold(headers, group.semantic_threshold)
    directives = _cache_control(headers.get(CACHE_CONTROL, ""))

    def plan(read: bool, write: bool, result: CacheResult) -> CachePlan:
        return CachePlan(tenant, model_group, key_id, group, read, write, result)

    if not (settings.enabled and group.enabled):
        return plan(False, False, "bypass")
    if "no-store" in directives or mode == "bypass":
        return plan(False, False, "bypass")
    if mode != "use" and not is_deterministic(body):
        return plan(False, False, "bypass")
    refresh = "no-cache" in directives or mode == "refresh"
    chosen = plan(not refresh, True, "refresh" if refresh else "miss")
    chosen.request_hash = request_hash(body)
    chosen.semantic = semantic_parts(body) if group.semantic else None
    chosen.threshold = threshold
    options = body.get("stream_options")
    chosen.include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return chosen


def is_deterministic(body: dict[str, Any]) -> bool:
    """``temperature`` 0 or an integer ``seed``: the request asks for a repeatable answer."""
    temperature = body.get("temperature")
    seed = body.get("seed")
    zero = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    seeded = isinstance(seed, int) and not isinstance(seed, bool)
    return (zero and temperature == 0) or seeded


def _mode(headers: Mapping[str, str]) -> str | None:
    raw = headers.get(CACHE_HEADER)
    if raw is None:
        return None
    mode = raw.strip().lower()
    if mode not in MODES:
        raise InvalidRequest(
            f"header {CACHE_HEADER} must be one of {', '.join(MODES)}", param=CACHE_HEADER
        )
    return mode


def _threshold(headers: Mapping[str, str], floor: float) -> float:
    raw = headers.get(THRESHOLD_HEADER)
    if raw is None:
        return floor
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:  # also refuses nan
        raise InvalidRequest(
            f"header {THRESHOLD_HEADER} must be a number above 0 and at most 1",
            param=THRESHOLD_HEADER,
        )
    return max(value, floor)  # a request may ask for closer matches, never for looser ones


def _cache_control(value: str) -> set[str]:
    """The directive names of a Cache-Control value (arguments dropped), lower case."""
    return {part.split("=", 1)[0].strip().lower() for part in value.split(",") if part.strip()}
