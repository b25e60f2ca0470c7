"""Limits before a routed call, usage after it: the two calls the request path makes.

    ticket = await accounting.admit(principal, model, body, kind="chat")   # may raise 429
    ...route and call...
    await accounting.settle(ticket, status=200, usage=reply_json.get("usage"),
                            deployment=routed.deployment.id, ttft_ms=...)

``admit`` counts the prompt with the model's tokenizer, adds ``max_tokens`` (or the default),
prices the worst case and reserves both in the caller's key (or OAuth user) and tenant scopes at
once.
``settle`` replaces the estimate with the real usage (or refunds it when the call failed),
and hands one ``UsageRecord`` to the ledger writer, off the request path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, assert_never

import anyio
import orjson

from flightdeck.auth.keys import Principal
from flightdeck.core.errors import ClientGone, FlightdeckError, RateLimited
from flightdeck.core.settings import Settings
from flightdeck.ledger.queries import month_spend, user_month_spend
from flightdeck.ledger.record import ExperimentTag, UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.limits.backend import SpendLoader
from flightdeck.limits.estimate import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    check_output_params,
    estimate_chat_tokens,
    estimate_embedding_tokens,
    payload_chars,
)
from flightdeck.limits.limiter import Limiter, Reservation
from flightdeck.limits.policy import PolicyStore
from flightdeck.limits.prices import PriceTable
from flightdeck.limits.scopes import (
    MICROS,
    UNLIMITED,
    Demand,
    KeyScope,
    Scope,
    TenantScope,
    UserScope,
)
from flightdeck.store.database import Store
from flightdeck.wire.chat import Usage

Kind = Literal["chat", "embeddings"]
OFFLOAD_CHARS = 32_768  # bodies with more text than this are tokenized in a worker thread


@dataclass
class Ticket:
    """What ``admit`` hands out and ``settle`` takes back."""

    principal: Principal
    model_group: str
    prompt_tokens: int
    reservation: Reservation
    started: float = field(default_factory=time.perf_counter)
    experiments: tuple[ExperimentTag, ...] = ()  # recorded with the usage (experiments)
    response_id: str | None = None  # the reply's id, once known
    cache_result: str | None = None  # the response cache's result, recorded with the usage

    @property
    def headers(self) -> dict[str, str]:
        """``x-ratelimit-*`` headers for the response."""
        return self.reservation.headers


class Accounting:
    """Limits before a model call and usage after it, for every plane (see the module doc)."""

    def __init__(
        self,
        limiter: Limiter,
        policies: PolicyStore,
        prices: PriceTable,
        ledger: LedgerWriter | None,
        *,
        max_output_tokens: int = 131_072,
        max_choices: int = 16,
    ) -> None:
        self.limiter = limiter
        self.policies = policies
        self.prices = prices
        self.ledger = ledger
        self.max_output_tokens = max_output_tokens
        self.max_choices = max_choices
        self.on_settle: Callable[[UsageRecord, Usage], None] | None = None  # telemetry

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Accounting:
        ledger = None
        if settings.ledger.enabled:
            spool_dir = settings.ledger.spool_dir or Path(settings.home) / "ledger-spool"
            ledger = LedgerWriter(
                store.engine,
                Spool(spool_dir),
                flush_interval=settings.ledger.flush_interval_seconds,
                batch_size=settings.ledger.batch_size,
                durable=settings.ledger.sync_before_reply,
            )
        return cls(
            Limiter.from_settings(settings.limits, spend_loader=ledger_spend(store)),
            PolicyStore(store, settings.limits),
            PriceTable(settings.limits.prices),
            ledger,
            max_output_tokens=settings.limits.max_output_tokens,
            max_choices=settings.limits.max_choices,
        )

    async def start(self) -> None:
        """After ``store.migrate()``: replays the ledger spool and starts its writer."""
        if self.ledger is not None:
            await self.ledger.start()

    async def close(self) -> None:
        if self.ledger is not None:
            await self.ledger.close()
        await self.limiter.close()

    async def admit(
        self, principal: Principal, model_group: str, body: dict[str, Any], kind: Kind = "chat"
    ) -> Ticket:
        """Reserve the most this request can use, or raise RateLimited (429).

        Raises InvalidRequest (400) for a ``max_tokens``/``n`` that is not a positive integer
        or is over the configured cap. Large bodies are tokenized in a worker thread, so the
        event loop keeps serving other requests meanwhile.
        """
        if kind == "chat":
            check_output_params(body, self.max_output_tokens, self.max_choices)
        if payload_chars(body, OFFLOAD_CHARS) >= OFFLOAD_CHARS:
            prompt, most_output = await anyio.to_thread.run_sync(estimate, body, kind)
        else:
            prompt, most_output = estimate(body, kind)
        cost = self.prices.estimate_micros(model_group, prompt, most_output)
        scopes = await self.policies.scopes_for(principal.tenant, principal.key_id, principal.user)
        try:
            reservation = await self.limiter.reserve(scopes, Demand(prompt + most_output, cost))
        except RateLimited as exc:
            self._record_refusal(principal, model_group, exc)
            raise
        return Ticket(principal, model_group, prompt, reservation)

    async def settle(
        self,
        ticket: Ticket,
        *,
        status: int,
        usage: dict[str, Any] | None = None,
        deployment: str | None = None,
        ttft_ms: float | None = None,
        error_type: str | None = None,
        trace_id: str | None = None,
    ) -> UsageRecord:
        """Reconcile the reservation with what was used and queue the usage record."""
        latency_ms = (time.perf_counter() - ticket.started) * 1000
        tokens = Usage.from_chat(usage)
        input_tokens, output_tokens, cached = tokens.prompt, tokens.completion, tokens.cached
        if usage is None and status < 400:
            input_tokens = ticket.prompt_tokens  # no usage reported: count what we know
        group = ticket.model_group
        cost_micros = self.prices.cost_micros(
            group,
            input_tokens,
            output_tokens,
            cached,
            cache_write=tokens.cache_write,
            reasoning=tokens.reasoning,
        )
        if status >= 400 and usage is None:
            await ticket.reservation.release()
        else:
            await ticket.reservation.reconcile(input_tokens + output_tokens, cost_micros)
        record = UsageRecord(
            tenant=ticket.principal.tenant,
            key_id=ticket.principal.key_id,
            user=ticket.principal.user,
            model_group=group,
            deployment=deployment,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached,
            cost=cost_micros / MICROS,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            status=status,
            error_type=error_type,
            trace_id=trace_id,
            experiments=ticket.experiments,
            response_id=ticket.response_id,
            cache_result=ticket.cache_result,
        )
        if self.on_settle is not None:
            self.on_settle(record, tokens)
        if self.ledger is not None:
            await self.ledger.commit(record)  # returns once on disk when sync_before_reply
        return record

    async def admit_hit(self, principal: Principal, model_group: str, result: str) -> Ticket:
        """A request the response cache answers: one request against requests/minute and
        concurrency, no tokens, no budget (``admit_request``); 429 when over the rate."""
        try:
            reservation = await self.admit_request(principal)
        except RateLimited as exc:
            self._record_refusal(principal, model_group, exc, cache_result=result)
            raise
        return Ticket(principal, model_group, 0, reservation, cache_result=result)

    def _record_refusal(
        self,
        principal: Principal,
        model_group: str,
        exc: RateLimited,
        cache_result: str | None = None,
    ) -> None:
        """Refused requests are in the ledger too, at no cost."""
        if self.ledger is not None:
            self.ledger.record(
                UsageRecord(
                    tenant=principal.tenant,
                    key_id=principal.key_id,
                    user=principal.user,
                    model_group=model_group,
                    status=exc.status,
                    error_type=exc.code,
                    cache_result=cache_result,
                )
            )

    async def settle_hit(
        self,
        ticket: Ticket,
        *,
        saved_usage: dict[str, Any] | None,
        error_type: str | None = None,
        trace_id: str | None = None,
    ) -> UsageRecord:
        """Release a cache hit's request slot and record it: no tokens, zero cost, and as
        ``saved_cost`` the price of ``saved_usage`` (the usage of the call that wrote the entry)."""
        await ticket.reservation.reconcile(0, 0)
        tokens = Usage.from_chat(saved_usage)
        saved_micros = self.prices.cost_micros(
            ticket.model_group,
            tokens.prompt,
            tokens.completion,
            tokens.cached,
            cache_write=tokens.cache_write,
            reasoning=tokens.reasoning,
        )
        record = UsageRecord(
            tenant=ticket.principal.tenant,
            key_id=ticket.principal.key_id,
            user=ticket.principal.user,
            model_group=ticket.model_group,
            latency_ms=(time.perf_counter() - ticket.started) * 1000,
            status=200,
            error_type=error_type,
            trace_id=trace_id,
            experiments=ticket.experiments,
            response_id=ticket.response_id,
            cache_result=ticket.cache_result,
            saved_cost=saved_micros / MICROS,
        )
        if self.on_settle is not None:
            self.on_settle(record, Usage())  # no upstream tokens: the hit spent none
        if self.ledger is not None:
            await self.ledger.commit(record)
        return record

    async def admit_request(self, principal: Principal) -> Reservation:
        """Requests/minute and concurrency for a request that calls no model (search): it
        spends nothing, so no tokens and no budget. ``reconcile(0)`` the reservation after."""
        scopes = await self.policies.scopes_for(principal.tenant, principal.key_id, principal.user)
        free = [replace(scope, monthly_budget_micros=UNLIMITED) for scope in scopes]
        return await self.limiter.reserve(free, Demand(0, 0))

    async def settle_failure(
        self, ticket: Ticket, exc: BaseException, *, trace_id: str | None = None
    ) -> None:
        """Settle a call that raised ``exc``: refund what it reserved, record why it failed
        (a cancelled call is a client that left: 499 ``client_gone``)."""
        status, error = 500, "server_error"
        if isinstance(exc, FlightdeckError):
            status, error = exc.status, exc.type
        elif isinstance(exc, asyncio.CancelledError):
            status, error = ClientGone.status, ClientGone.type
        await self.settle(ticket, status=status, error_type=error, trace_id=trace_id)

    def health(self) -> dict[str, object]:
        """For /readyz: both stay 'ready' while degraded, but say so."""
        ledger = self.ledger.health() if self.ledger is not None else {"state": "disabled"}
        return {"limits": self.limiter.health(), "ledger": ledger}


def ledger_spend(store: Store) -> SpendLoader:
    """What a scope's owner spent in a month, from the usage ledger (micros)."""

    async def spent(scope: Scope, month: str) -> int:
        owner = scope.owner
        if owner is None:
            return 0
        async with store.engine.connect() as conn:
            if isinstance(owner, UserScope):
                spend = await user_month_spend(conn, owner.tenant, owner.user, month)
            elif isinstance(owner, KeyScope):
                spend = await month_spend(conn, None, owner.key_id, month)
            elif isinstance(owner, TenantScope):
                spend = await month_spend(conn, owner.tenant, None, month)
            else:
                assert_never(owner)
        return round(spend * MICROS)

    return spent


class StreamMeter:
    """Watches a chat stream's events for the ``usage`` chunk (sent when the client asked for
    ``stream_options.include_usage``); without one, each content chunk counts as one token."""

    def __init__(self) -> None:
        self.usage: dict[str, Any] | None = None
        self.chunks = 0

    def see(self, event: bytes) -> None:
        self.chunks += 1
        if b'"usage"' not in event or not event.startswith(b"data: {"):
            return
        try:
            data = orjson.loads(event[6:])
        except orjson.JSONDecodeError:
            return
        if isinstance(data, dict) and isinstance(data.get("usage"), dict):
            self.usage = data["usage"]

    def settled_usage(self, prompt_tokens: int) -> dict[str, Any]:
        if self.usage is not None:
            return self.usage
        return {"prompt_tokens": prompt_tokens, "completion_tokens": max(self.chunks - 1, 0)}


def estimate(body: dict[str, Any], kind: Kind) -> tuple[int, int]:
    """(prompt tokens, most output tokens) of a ``kind`` request (``limits.estimate``)."""
    if kind == "chat":
        return estimate_chat_tokens(body, DEFAULT_MAX_OUTPUT_TOKENS)
    return estimate_embedding_tokens(body), 0
