"""Routing inside and across model groups: weighted choice, retries, cooldowns, fallbacks.

A call walks the group the client named, then its fallbacks in order. Inside a group each
attempt goes to a weighted choice among deployments whose circuit admits traffic, preferring
ones not yet tried; between attempts on the same deployment it sleeps a jittered exponential
backoff. Every attempt has its own deadline and the whole call a total one. Client errors (the
upstream said the request itself is wrong) are not retried.

Rate-limit hints (``Retry-After`` in any form, ``flightdeck.providers.retry_hints``) are
honoured: no request goes to a deployment inside the window it asked for. The router waits for
the window's end when it is at most ``router.max_retry_after_seconds`` (the clamp: a deployment
is kept out of rotation that long at most) and fits the deadline, else moves on to the next
deployment or fallback, or gives up; the 429 the client then gets carries the upstream's wait
(at most an hour) as ``Retry-After`` in seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from flightdeck.calls.circuit import Circuit
from flightdeck.calls.context import Attempt, AttemptObserver
from flightdeck.core.errors import (
    ConfigError,
    InvalidRequest,
    NotFound,
    RequestError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from flightdeck.core.settings import ModelDeployment, RouterSettings, Settings
from flightdeck.providers.base import ChatStream, Provider, UpstreamReply
from flightdeck.providers.registry import ProviderRegistry
from flightdeck.telemetry.attempts import AttemptTelemetry

T = TypeVar("T")
Operation = Literal["chat", "embeddings"]


@dataclass(eq=False)
class Deployment:
    """One configured deployment: its provider connection and its circuit."""

    id: str
    config: ModelDeployment
    provider: Provider
    circuit: Circuit

    @property
    def attempt_timeout(self) -> float | None:
        return self.config.timeout_seconds


@dataclass(eq=False)
class ModelGroup:
    """The deployments clients reach by one model name, and where to fall back."""

    name: str
    deployments: list[Deployment]
    fallbacks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.capable: dict[Operation, list[Deployment]] = {
            "chat": [d for d in self.deployments if d.provider.supports_chat],
            "embeddings": [d for d in self.deployments if d.provider.supports_embeddings],
        }

    def add(self, deployment: Deployment) -> None:
        self.deployments.append(deployment)
        self.__post_init__()

    def supports(self, op: Operation) -> bool:
        return bool(self.capable[op])

    def pick(self, op: Operation, tried: set[Deployment], rng: random.Random) -> Deployment | None:
        """Weighted choice among available deployments, untried ones first."""
        ready = [d for d in self.capable[op] if d.circuit.available()]
        waiting = {d for d in ready if d.circuit.deferred()}
        fresh = (
            [d for d in ready if d not in tried and d not in waiting]
            or [d for d in ready if d not in waiting]
            or ready
        )
        if not fresh:
            return None
        if len(fresh) == 1:
            return fresh[0]
        return rng.choices(fresh, weights=[d.config.weight for d in fresh])[0]


@dataclass(slots=True)
class Routed(Generic[T]):
    """What a call returned, and where it went (``deployment`` None, ``attempts`` 0: the
    response cache answered it, no model was called)."""

    value: T
    group: str
    deployment: Deployment | None
    attempts: int

    @property
    def deployment_id(self) -> str | None:
        return self.deployment.id if self.deployment is not None else None


@dataclass(slots=True)
class OpenedStream:
    """A stream whose first event already arrived: from here on it is committed."""

    stream: ChatStream
    events: AsyncIterator[bytes]
    first_event: bytes


def is_retryable(err: UpstreamError) -> bool:
    """Connect errors, timeouts, 408, 429 and 5xx are worth another attempt."""
    if isinstance(err, UpstreamUnavailable | UpstreamTimeout):
        return True
    status = err.upstream_status
    return status is None or status in (408, 429) or status >= 500


class Router:
    """Routes a call through a model group and its fallbacks (see the module docstring)."""

    def __init__(
        self,
        settings: RouterSettings,
        groups: dict[str, ModelGroup],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.groups = groups
        self._rng = rng or random.Random()
        self._clock = clock
        self.telemetry: AttemptTelemetry | None = None  # a span and metrics per attempt

    @classmethod
    def from_settings(cls, settings: Settings, registry: ProviderRegistry) -> Router:
        groups: dict[str, ModelGroup] = {}
        for cfg in settings.models:
            group = groups.setdefault(cfg.name, ModelGroup(cfg.name, []))
            provider = registry.get(cfg.provider)(cfg)
            dep_id = cfg.id or f"{cfg.name}#{len(group.deployments)}"
            circuit = Circuit(settings.router.cooldown_failures, settings.router.cooldown_seconds)
            group.add(Deployment(dep_id, cfg, provider, circuit))
            for fb in cfg.fallbacks:
                if fb not in group.fallbacks:
                    group.fallbacks.append(fb)
        ids = [d.id for g in groups.values() for d in g.deployments]
        if len(ids) != len(set(ids)):
            raise ConfigError("models: deployment ids must be unique")
        return cls(settings.router, groups)

    async def start(self) -> None:
        for dep in self.deployments():
            await dep.provider.start()

    async def close(self) -> None:
        for dep in self.deployments():
            await dep.provider.close()

    def deployments(self) -> list[Deployment]:
        return [d for g in self.groups.values() for d in g.deployments]

    def known(self, name: str) -> ModelGroup:
        """The group clients call ``name``; NotFound (404) when there is none."""
        group = self.groups.get(name)
        if group is None:
            raise NotFound(f"The model `{name}` does not exist", param="model")
        return group

    def group(self, name: str, op: Operation) -> ModelGroup:
        """The group ``name`` if it can do ``op``: NotFound (404), else InvalidRequest (400)."""
        group = self.known(name)
        if not group.supports(op):
            raise InvalidRequest(f"The model `{name}` does not support {op}", param="model")
        return group

    async def chat(
        self, model: str, body: dict[str, Any], on_attempt: AttemptObserver | None = None
    ) -> Routed[UpstreamReply]:
        """A chat completion (OpenAI JSON body) from ``model``'s group or its fallbacks."""
        return await self._route(model, "chat", lambda p: p.chat(body), on_attempt, body)

    async def embeddings(
        self, model: str, body: dict[str, Any], on_attempt: AttemptObserver | None = None
    ) -> Routed[UpstreamReply]:
        """Embeddings (OpenAI JSON body) from ``model``'s group or its fallbacks."""
        return await self._route(
            model, "embeddings", lambda p: p.embeddings(body), on_attempt, body
        )

    async def open_chat_stream(
        self, model: str, body: dict[str, Any], on_attempt: AttemptObserver | None = None
    ) -> Routed[OpenedStream]:
        """Open a stream and wait for its first event; failures before that are retried."""

        async def attempt(provider: Provider) -> OpenedStream:
            stream = await provider.open_chat_stream(body)
            events = aiter(stream)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                await stream.aclose()
                raise UpstreamError("upstream closed the stream before any event") from None
            except BaseException:
                await stream.aclose()
                raise
            return OpenedStream(stream, events, first)

        return await self._route(model, "chat", attempt, on_attempt, body)

    async def _route(
        self,
        model: str,
        op: Operation,
        call: Callable[[Provider], Awaitable[T]],
        on_attempt: AttemptObserver | None = None,
        body: dict[str, Any] | None = None,
    ) -> Routed[T]:
        primary = self.group(model, op)
        deadline = self._clock() + self.settings.total_timeout_seconds
        chain = [primary] + [
            self.groups[f] for f in primary.fallbacks if self.groups[f].supports(op)
        ]
        last: UpstreamError | None = None
        attempts = 0
        for group in chain:
            tried: set[Deployment] = set()
            for retry in range(self.settings.max_retries + 1):
                dep = group.pick(op, tried, self._rng)
                if dep is None:
                    last = last or UpstreamUnavailable(
                        f"every deployment of `{group.name}` is cooling down after failures"
                    )
                    break
                if dep in tried:
                    if not await self._backoff(retry, last, deadline, dep):
                        break
                elif dep.circuit.deferred() and not await self._wait_window(dep, deadline):
                    last = last or self._asked_to_wait(dep)
                    break
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise UpstreamTimeout(f"`{model}` did not answer within the deadline")
                retried = bool(tried)
                tried.add(dep)
                attempts += 1
                started = time.time() if on_attempt is not None else 0.0
                try:
                    if self.telemetry is None:
                        value = await self._attempt(dep, call, remaining)
                    else:
                        fell_back = None if group is primary else primary.name
                        with self.telemetry.attempt(
                            op,
                            group.name,
                            dep,
                            attempts,
                            body or {},
                            retry=retried,
                            fallback=fell_back,
                        ) as recorder:
                            value = await self._attempt(dep, call, remaining)
                            recorder.answered(value)
                except UpstreamError as err:
                    if on_attempt is not None:
                        on_attempt(_attempt(group, dep, attempts, started, err))
                    if not is_retryable(err):
                        dep.circuit.record_success()  # the deployment answered; the request was bad
                        raise
                    dep.circuit.record_failure(self._usable_retry_after(err))
                    last = err
                    continue
                dep.circuit.record_success()
                if on_attempt is not None:
                    on_attempt(_attempt(group, dep, attempts, started))
                return Routed(value, group.name, dep, attempts)
        if self._clock() >= deadline:
            raise UpstreamTimeout(f"`{model}` did not answer within the deadline")
        assert last is not None
        raise last

    async def _attempt(
        self, dep: Deployment, call: Callable[[Provider], Awaitable[T]], remaining: float
    ) -> T:
        timeout = min(dep.attempt_timeout or self.settings.attempt_timeout_seconds, remaining)
        dep.circuit.on_send()
        try:
            async with asyncio.timeout(timeout):
                return await call(dep.provider)
        except TimeoutError:
            raise UpstreamTimeout(
                f"deployment `{dep.id}` did not answer within {timeout:.3g}s"
            ) from None
        except (asyncio.CancelledError, RequestError):
            # No verdict on the deployment: the client left, or its request cannot be
            # translated to this deployment's wire format (400 naming the field).
            dep.circuit.release_probe()
            raise

    def _usable_retry_after(self, err: UpstreamError) -> float | None:
        ra = err.retry_after
        if ra is None:
            return None
        return min(ra, self.settings.max_retry_after_seconds)

    async def _backoff(
        self, retry: int, err: UpstreamError | None, deadline: float, dep: Deployment
    ) -> bool:
        """Sleep before retrying the same deployment, past any window it asked for; False when
        that would pass the deadline or the upstream asked for more than the router waits."""
        cap = min(self.settings.backoff_max_seconds, self.settings.backoff_base_seconds * 2**retry)
        delay = max(self._rng.uniform(cap / 2, cap), dep.circuit.wait_left())
        if err is not None and err.retry_after is not None:
            if err.retry_after > self.settings.max_retry_after_seconds:
                return False
            delay = max(delay, err.retry_after)
        if self._clock() + delay >= deadline:
            return False
        await asyncio.sleep(delay)
        return True

    async def _wait_window(self, dep: Deployment, deadline: float) -> bool:
        """Wait out the window ``dep`` asked for (another call saw its 429); False when it
        ends past the deadline."""
        wait = dep.circuit.wait_left()
        if self._clock() + wait >= deadline:
            return False
        await asyncio.sleep(wait)
        return True

    def _asked_to_wait(self, dep: Deployment) -> UpstreamError:
        return UpstreamError(
            f"deployment `{dep.id}` asked for no requests until its rate limit resets",
            status=429,
            retry_after=dep.circuit.wait_left(),
            error_type="rate_limit_error",
            code="rate_limit_exceeded",
        )


def _attempt(
    group: ModelGroup,
    dep: Deployment,
    number: int,
    started: float,
    error: BaseException | None = None,
) -> Attempt:
    return Attempt(group.name, dep.id, number, started, (time.time() - started) * 1000, error)
