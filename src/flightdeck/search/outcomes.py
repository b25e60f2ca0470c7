"""Each search's outcome, recorded in the usage ledger like a model call's usage.

Every ``POST /v1/search`` that names one of the caller's collections gets a response id
(``search-<32 hex>``, the body's ``id``) and, answered or failed, one :class:`UsageRecord`:
model group ``search:<collection>``, latency (milliseconds, from the start of the request),
status and error type, ``result_count`` (the hits answered; None when it failed), no tokens and
no cost, and the ranking experiments it was served in. The ledger writes it off the request
path and spools it to disk while the database is down, exactly as it does usage, so a ranking
experiment's exposures and guardrails (latency, errors, results, zero results) survive an
outage; ``POST /v1/feedback`` with the response id adds clicks or ratings to the same variant.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from flightdeck.auth.keys import Principal
from flightdeck.calls.context import CallContext
from flightdeck.core.errors import ClientGone, FlightdeckError
from flightdeck.ledger.record import SEARCH_GROUP_PREFIX, UsageRecord

RESPONSE_PREFIX = "search-"


def search_response_id() -> str:
    """A new search response id: ``search-`` and 32 random hex characters (not the process's
    counter ids: this one is handed to clients and names what feedback attaches to)."""
    return RESPONSE_PREFIX + secrets.token_hex(16)


@dataclass
class SearchOutcome:
    """One search's outcome while it runs; :meth:`record` turns it into a usage record."""

    principal: Principal
    collection: str
    response_id: str = field(default_factory=search_response_id)
    started: float = field(default_factory=time.perf_counter)
    status: int = 200
    error_type: str | None = None
    result_count: int | None = None

    def failed(self, exc: BaseException) -> None:
        """The search raised ``exc``: its status and error type (a cancelled search is a
        client that left: 499 ``client_gone``; anything else unexpected is a 500)."""
        self.status, self.error_type = 500, "server_error"
        if isinstance(exc, FlightdeckError):
            self.status, self.error_type = exc.status, exc.code or exc.type
        elif isinstance(exc, asyncio.CancelledError):
            self.status, self.error_type = ClientGone.status, ClientGone.type

    def record(self, served: CallContext) -> UsageRecord:
        """The usage record of this search, with the experiments ``served`` assigned it to."""
        return UsageRecord(
            tenant=self.principal.tenant,
            key_id=self.principal.key_id,
            user=self.principal.user,
            model_group=SEARCH_GROUP_PREFIX + self.collection,
            status=self.status,
            error_type=self.error_type,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            experiments=tuple((v.experiment_id, v.variant, v.unit) for v in served.variants),
            response_id=self.response_id,
            result_count=self.result_count,
        )
