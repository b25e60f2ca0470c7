"""Model calls as one shared service: every plane calls models through ``ModelCalls``.

    chat, embeddings    admit (limits, budgets) -> route (retries, fallbacks) -> settle
    open_chat_stream    admit -> route until the first event -> ModelStream (idle timeout,
                        usage meter; settled when it is closed)

While a call or a stream opening is awaited, a client that leaves (``ctx.client_gone``) cancels
it: the reservation is refunded and the call recorded as 499 ``client_gone``. Every failure is
settled (refunded, recorded) before it is raised.

Later layers hook in here and nowhere else: a response cache looks a request up before
``admit`` and stores the reply after ``settle``; an experiment sets ``ctx.model_group`` before
the call; telemetry reads ``ctx.trace_id`` and ``ctx.on_attempt``; a new inbound wire format
translates its request to the OpenAI chat body and calls these same methods.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson

from flightdeck.calls.accounting import Accounting, Ticket
from flightdeck.calls.context import CallContext, CallHook
from flightdeck.calls.router import Routed, Router
from flightdeck.calls.streams import ModelStream
from flightdeck.core.cancel import until_gone
from flightdeck.providers.base import UpstreamReply

T = TypeVar("T")


class ModelCalls:
    """Admitted, routed and settled model calls (see the module docstring)."""

    def __init__(
        self, router: Router, accounting: Accounting, *, before_call: CallHook | None = None
    ) -> None:
        self.router = router
        self.accounting = accounting
        self.idle_timeout = router.settings.stream_idle_timeout_seconds
        self.before_call = before_call  # experiments: assign, rewrite ctx.model_group or body

    async def chat(self, ctx: CallContext, body: dict[str, Any]) -> Routed[UpstreamReply]:
        """A chat completion for an OpenAI chat ``body``; raises the router's errors, 429s."""
        ticket = await self.admit(ctx, body)
        call = self.router.chat(ctx.model_group, body, ctx.on_attempt)
        routed = await self._settled(ctx, ticket, call)
        await self._settle_reply(ctx, ticket, routed)
        return routed

    async def embeddings(self, ctx: CallContext, body: dict[str, Any]) -> Routed[UpstreamReply]:
        """Embeddings for an OpenAI embeddings ``body``; raises the router's errors, 429s."""
        ticket = await self.admit(ctx, body)
        call = self.router.embeddings(ctx.model_group, body, ctx.on_attempt)
        routed = await self._settled(ctx, ticket, call)
        await self._settle_reply(ctx, ticket, routed)
        return routed

    async def open_chat_stream(self, ctx: CallContext, body: dict[str, Any]) -> ModelStream:
        """A chat stream whose first event arrived (failures before it are retried); the
        caller must ``aclose()`` it (or use ``async with``), which settles it."""
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
        )

    async def admit(self, ctx: CallContext, body: dict[str, Any]) -> Ticket:
        """Reserve what the call may use (429 when over a limit); an unknown model is 404.
        Experiments (``before_call``) run first, so limits and the ledger see the variant."""
        if self.before_call is not None and not ctx.variants:
            await self.before_call(ctx, body)
        self.router.known(ctx.model_group)
        ticket = await self.accounting.admit(ctx.principal, ctx.model_group, body, ctx.kind)
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
            deployment=routed.deployment.id,
            trace_id=ctx.trace_id,
        )


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
