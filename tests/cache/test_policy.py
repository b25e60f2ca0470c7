"""When a request reads or writes the cache, and what result it reports."""

from __future__ import annotations

from typing import Any

import pytest

from flightdeck.cache import CachePlan, plan_request
from flightdeck.core.cache_settings import CacheSettings
from flightdeck.core.errors import InvalidRequest

MESSAGES = [{"role": "user", "content": "hello"}]
DETERMINISTIC = {"model": "m", "messages": MESSAGES, "temperature": 0}
SAMPLED = {"model": "m", "messages": MESSAGES}


def plan(
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    settings: CacheSettings | None = None,
) -> CachePlan:
    return plan_request(
        settings or CacheSettings(),
        tenant="t",
        model_group="m",
        body=body,
        headers=headers or {},
    )


@pytest.mark.parametrize(
    ("body", "headers", "read", "write", "result"),
    [
        (DETERMINISTIC, {}, True, True, "miss"),
        ({**SAMPLED, "seed": 3}, {}, True, True, "miss"),
        ({**SAMPLED, "temperature": 0.0}, {}, True, True, "miss"),
        (SAMPLED, {}, False, False, "bypass"),
        ({**SAMPLED, "temperature": 0.2}, {}, False, False, "bypass"),
        (SAMPLED, {"x-flightdeck-cache": "use"}, True, True, "miss"),
        (SAMPLED, {"x-flightdeck-cache": "USE "}, True, True, "miss"),
        (DETERMINISTIC, {"cache-control": "no-store"}, False, False, "bypass"),
        (DETERMINISTIC, {"cache-control": "max-age=0, No-Cache"}, False, True, "refresh"),
        (DETERMINISTIC, {"x-flightdeck-cache": "bypass"}, False, False, "bypass"),
        (DETERMINISTIC, {"x-flightdeck-cache": "refresh"}, False, True, "refresh"),
        (SAMPLED, {"cache-control": "no-cache"}, False, False, "bypass"),
        (
            DETERMINISTIC,
            {"cache-control": "no-cache, no-store"},
            False,
            False,
            "bypass",
        ),
    ],
)
def test_cacheable_requests_and_client_directives(
    body: dict[str, Any], headers: dict[str, str], read: bool, write: bool, result: str
) -> None:
    chosen = plan(body, headers)
    assert (chosen.read, chosen.write, chosen.result) == (read, write, result)


def test_a_disabled_cache_or_group_bypasses_everything() -> None:
    assert plan(DETERMINISTIC, settings=CacheSettings(enabled=False)).result == "bypass"
    off = CacheSettings.model_validate({"models": {"m": {"enabled": False}}})
    assert plan(DETERMINISTIC, settings=off).result == "bypass"
    other = CacheSettings.model_validate({"models": {"other": {"enabled": False}}})
    assert plan(DETERMINISTIC, settings=other).result == "miss"


def test_stream_usage_request_is_noted_for_replay() -> None:
    body = {**DETERMINISTIC, "stream": True, "stream_options": {"include_usage": True}}
    assert plan(body).include_usage
    assert not plan(DETERMINISTIC).include_usage


def test_threshold_header_may_raise_the_group_threshold_never_lower_it() -> None:
    settings = CacheSettings.model_validate(
        {"models": {"m": {"semantic": True, "semantic_threshold": 0.9}}}
    )
    assert plan(DETERMINISTIC, settings=settings).threshold == 0.9
    raised = plan(DETERMINISTIC, {"x-flightdeck-cache-threshold": "0.97"}, settings)
    assert raised.threshold == 0.97
    lowered = plan(DETERMINISTIC, {"x-flightdeck-cache-threshold": "0.5"}, settings)
    assert lowered.threshold == 0.9


def test_semantic_parts_only_for_semantic_groups() -> None:
    assert plan(DETERMINISTIC).semantic is None
    settings = CacheSettings.model_validate({"models": {"m": {"semantic": True}}})
    chosen = plan(DETERMINISTIC, settings=settings)
    assert chosen.semantic is not None and chosen.semantic.text == "hello"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-flightdeck-cache": "always"},
        {"x-flightdeck-cache-threshold": "high"},
        {"x-flightdeck-cache-threshold": "1.5"},
        {"x-flightdeck-cache-threshold": "0"},
        {"x-flightdeck-cache-threshold": "nan"},
    ],
)
def test_bad_cache_headers_are_a_400_naming_the_header(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as info:
        plan(DETERMINISTIC, headers)
    assert info.value.status == 400
    assert info.value.param == next(iter(headers))


def test_group_overrides_merge_over_the_section_defaults() -> None:
    settings = CacheSettings.model_validate(
        {"ttl_seconds": 60, "models": {"m": {"ttl_seconds": 5, "semantic": True}}}
    )
    group = settings.for_group("m")
    assert (group.ttl_seconds, group.semantic, group.max_bytes) == (5, True, settings.max_bytes)
    assert settings.for_group("other").ttl_seconds == 60
