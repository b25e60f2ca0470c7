"""Router decisions with scripted in-process providers (no network needed for these rules)."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import pytest

from flightdeck.calls.circuit import Circuit
from flightdeck.calls.router import Deployment, ModelGroup, Router
from flightdeck.core.errors import UpstreamError, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment, RouterSettings
from flightdeck.providers.base import Provider, UpstreamReply


class Scripted(Provider):
    """Answers from a script of outcomes: an exception to raise, or a reply."""

    kind = "scripted"

    def __init__(self, name: str, script: list[Exception | None] | None = None) -> None:
        super().__init__(ModelDeployment(name=name, provider="scripted"))
        self.script = list(script or [])
        self.calls: list[float] = []

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        self.calls.append(time.monotonic())
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return UpstreamReply.from_json({"from": self.deployment.name})


def make_router(groups: dict[str, list[tuple[Scripted, float]]], **settings: Any) -> Router:
    router_settings = RouterSettings(
        backoff_base_seconds=0.001, backoff_max_seconds=0.002, **settings
    )
    built = {}
    for name, deps in groups.items():
        built[name] = ModelGroup(
            name,
            [
                Deployment(
                    f"{name}#{i}",
                    p.deployment.model_copy(update={"weight": w}),
                    p,
                    Circuit(router_settings.cooldown_failures, router_settings.cooldown_seconds),
                )
                for i, (p, w) in enumerate(deps)
            ],
        )
    return Router(router_settings, built, rng=random.Random(1))


async def test_weighted_choice_follows_weights() -> None:
    heavy, light = Scripted("heavy"), Scripted("light")
    router = make_router({"g": [(heavy, 3.0), (light, 1.0)]})
    seen = Counter()
    for _ in range(400):
        routed = await router.chat("g", {})
        seen[routed.value.json()["from"]] += 1
    assert 0.68 < seen["heavy"] / 400 < 0.82


async def test_retry_after_is_honoured_before_retrying_the_same_deployment() -> None:
    only = Scripted("only", [UpstreamError("slow down", upstream_status=429, retry_after=0.2)])
    router = make_router({"g": [(only, 1.0)]})
    routed = await router.chat("g", {})
    assert routed.attempts == 2
    assert only.calls[1] - only.calls[0] >= 0.2


async def test_client_errors_are_not_retried() -> None:
    bad_request = UpstreamError("bad tool schema", status=400, upstream_status=400)
    dep = Scripted("d", [bad_request])
    router = make_router({"g": [(dep, 1.0)]})
    with pytest.raises(UpstreamError) as info:
        await router.chat("g", {})
    assert info.value.status == 400 and len(dep.calls) == 1


async def test_retries_prefer_another_deployment() -> None:
    a = Scripted("a", [UpstreamUnavailable("down")] * 10)
    b = Scripted("b", [UpstreamUnavailable("down")] * 10)
    router = make_router({"g": [(a, 1.0), (b, 1.0)]}, max_retries=1)
    with pytest.raises(UpstreamUnavailable):
        await router.chat("g", {})
    assert len(a.calls) == 1 and len(b.calls) == 1


async def test_fallback_group_used_when_primary_exhausted() -> None:
    primary = Scripted("p", [UpstreamError("boom", upstream_status=503)] * 3)
    backup = Scripted("b")
    router = make_router({"p": [(primary, 1.0)], "b": [(backup, 1.0)]}, max_retries=2)
    router.groups["p"].fallbacks = ["b"]
    routed = await router.chat("p", {})
    assert routed.group == "b" and routed.attempts == 4
