"""Model calls as one shared service: every plane calls models through ``ModelCalls``.

    chat, embeddings    admit (limits, budgets) -> route (retries, fallbacks) -> settle
    open_chat_stream    admit -> route until the first event -> ModelStream (idle timeout,
                        usage meter; settled when it is closed)

Chat calls look in the response cache first (``flightdeck.calls.cached``), after experiments
chose the group and before any token is admitted: a hit is one request against the request
rate, no tokens, no budget, no upstream call, recorded at zero cost with the cost it saved; a
miss is the call above, whose reply (or recorded stream) is then stored.

While a call or a stream opening is awaited, a client that leaves (``ctx.client_gone``) cancels
it: the reservation is refunded and the call recorded as 499 ``client_gone``. Every failure is
settled (refunded, recorded) before it is raised.

Later layers hook in here and nowhere else: the response cache looks a request up before
``admit`` and stores the reply after ``settle``; an experiment sets ``ctx.model_group`` before
the call; telemetry reads ``ctx.trace_id``, ``ctx.on_attempt`` and ``ctx.cache_result``; a new
inbound wire format translates its request to the OpenAI chat body and calls these same
methods.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson

from flightdeck.cache import CacheHit, CachePlan, ResponseCache
from flightdeck.calls.accounting import Accounting, Ticket
from flightdeck.calls.cached import ReplayedStream, StreamRecording, asking_for_usage, quietly
from flightdeck.calls.context import CallContext, CallHook
from flightdeck.calls.router import Routed, Router
from flightdeck.calls.streams import ModelStream
from flightdeck.core.cancel import until_gone
from flightdeck.providers.base import UpstreamReply

T = TypeVar("T")


class ModelCalls:
    """Admitted, routed and settled model calls (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        accounting: Accounting,
        *,
        before_call: CallHook | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.router = router
        self.accounting = accounting
        self.idle_timeout = router.settings.stream_idle_timeout_seconds
        self.before_call = before_call  # experiments: assign, rewrite ctx.model_group or body
        self.cache = cache  # the response cache (None: no caching)

    async def chat(self, ctx: CallContext, body: dict[str, Any]) -> Routed[UpstreamReply]:
        """A chat completion for an OpenAI chat ``body``; raises the router's errors, 429s,
        and InvalidRequest (400) for a bad cache header."""
        plan, hit = await self._look_up(ctx, body)
        if plan is not None and hit is not None:
            ticket = await self._admit_hit(ctx, plan)
            completion = hit.completion()
            ticket.response_id = completion["id"]
            await self.accounting.settle_hit(ticket, saved_usage=hit.usage, trace_id=ctx.trace_id)
            return Routed(UpstreamReply.from_json(completion), ctx.model_group, None, 0)
        ticket = await self.admit(ctx, body)
        call = self.router.chat(ctx.model_group, body, ctx.on_attempt)
        routed = await self._settled(ctx, ticket, call)
        await self._settle_reply(ctx, ticket, routed)
        if self.cache is not None and plan is not None and plan.write:
            stored = self.cache.store_reply(plan, routed.value.json())
            await quietly(stored, False, "store")
        return routed

    async def embeddings(self, ctx: CallContext, body: dict[str, Any]) -> Routed[UpstreamReply]:
        """Embeddings for an OpenAI embeddings ``body``; raises the router's errors, 429s."""
        ticket = await self.admit(ctx, body)
        call = self.router.embeddings(ctx.model_group, body, ctx.on_attempt)
        routed = await self._settled(ctx, ticket, call)
        await self._settle_reply(ctx, ticket, routed)
        return routed

    async def open_chat_stream(self, ctx: CallContext, body: dict[str, Any]) -> ModelStream:
        """A chat stream whose first event arrived (failures before it are retried), or a
        cache hit replayed; the caller must ``aclose()`` it (or use ``async with``), which
        settles it."""
        plan, hit = await self._look_up(ctx, body)
        if plan is not None and hit is not None:
            ticket = await self._admit_hit(ctx, plan)
            events = hit.events(include_usage=plan.include_usage)
            ticket.response_id = _event_id(events[0])
            return ReplayedStream(
                events,
                ctx.model_group,
                ticket,
                self.accounting,
                saved_usage=hit.usage,
                trace_id=ctx.trace_id,
            )
        recording = None
        if self.cache is not None and plan is not None:
            recorder = self.cache.recorder(plan)
            if recorder is not None:
                strip = not plan.include_usage
                body = asking_for_usage(body) if strip else body
                recording = StreamRecording(self.cache, plan, recorder, strip_usage=strip)
        ticket = await self.admit(ctx, body)
        call = self.router.open_chat_stream(ctx.model_group, body, ctx.on_attempt)
        routed = await self._settled(ctx, ticket, call)
        ticket.response_id = _event_id(routed.value.first_event)
        return ModelStream(
            routed,
            ticket,
            self.accounting,
            idle_timeout=self.idle_timeout,
            trace_id=ctx.trace_id,
            recording=recording,
        )

    async def admit(self, ctx: CallContext, body: dict[str, Any]) -> Ticket:
        """Reserve what the call may use (429 when over a limit); an unknown model is 404.
        Experiments (``before_call``) run first, so limits and the ledger see the variant."""
        await self._prepare(ctx, body)
        ticket = await self.accounting.admit(ctx.principal, ctx.model_group, body, ctx.kind)
        ticket.experiments = tuple((v.experiment_id, v.variant, v.unit) for v in ctx.variants)
        ticket.cache_result = ctx.cache_result
        ctx.ticket = ticket
        return ticket

    async def _prepare(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """Experiments choose the group (once per context); an unknown model is 404."""
        if self.before_call is not None and not ctx.variants and not ctx.prepared:
            await self.before_call(ctx, body)
        ctx.prepared = True
        self.router.known(ctx.model_group)

    async def _look_up(
        self, ctx: CallContext, body: dict[str, Any]
    ) -> tuple[CachePlan | None, CacheHit | None]:
        """The cache's plan for a chat call and its entry, if any (sets ``ctx.cache_result``,
        the one value the route's header, the ledger and telemetry report)."""
        await self._prepare(ctx, body)
        if self.cache is None or ctx.kind != "chat":
            return None, None
        principal = ctx.principal
        plan = self.cache.plan(
            tenant=principal.tenant,
            model_group=ctx.model_group,
            body=body,
            headers=ctx.headers,
            key_id=principal.key_id,
        )
        hit = await quietly(self.cache.lookup(plan), None, "lookup") if plan.read else None
        ctx.cache_result = plan.result if hit is not None else _missed(plan)
        return plan, hit

    async def _admit_hit(self, ctx: CallContext, plan: CachePlan) -> Ticket:
        ticket = await self.accounting.admit_hit(ctx.principal, ctx.model_group, plan.result)
        ticket.experiments = tuple((v.experiment_id, v.variant, v.unit) for v in ctx.variants)
        ctx.ticket = ticket
        return ticket

    async def _settled(self, ctx: CallContext, ticket: Ticket, call: Awaitable[T]) -> T:
        """Await the routed call; a failure is settled (refunded, recorded) and re-raised."""
        try:
            if ctx.client_gone is None:
                return await call
            return await until_gone(ctx.client_gone, call)
        except BaseException as exc:
            await self.accounting.settle_failure(ticket, exc, trace_id=ctx.trace_id)
            raise

    async def _settle_reply(
        self, ctx: CallContext, ticket: Ticket, routed: Routed[UpstreamReply]
    ) -> None:
        reply = routed.value.json()
        reply_id = reply.get("id")
        ticket.response_id = reply_id if isinstance(reply_id, str) else None
        await self.accounting.settle(
            ticket,
            status=200,
            usage=reply.get("usage"),
            deployment=routed.deployment_id,
            trace_id=ctx.trace_id,
        )


def _missed(plan: CachePlan) -> str:
    """A plan's result when nothing was served: a lookup that failed half-way may have set
    ``hit`` on the plan, but the request went to the model."""
    return plan.result if plan.result in ("miss", "bypass", "refresh") else "miss"


def _event_id(event: bytes) -> str | None:
    """The ``id`` of a stream's first ``data: {...}`` event (the chat completion id)."""
    if not event.startswith(b"data: {"):
        return None
    try:
        data = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
