"""Liveness and readiness. Unauthenticated by design; they say nothing secret."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.gateway.accounting import Accounting
from flightdeck.gateway.router import Router
from flightdeck.store.database import Store


class Health:
    def __init__(self, store: Store, router: Router, accounting: Accounting | None = None) -> None:
        self.store = store
        self.router = router
        self.accounting = accounting

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        checks: dict[str, Any] = {"store": "ok" if await self.store.ping() else "unreachable"}
        deployments = {}
        for dep in self.router.deployments():
            ready = await dep.provider.ready()
            deployments[dep.id] = dep.circuit.state.value if ready else "loading"
        checks["deployments"] = deployments
        if self.accounting is not None:  # degraded limits or a spooling ledger stay ready
            checks.update(self.accounting.health())
        ok = checks["store"] == "ok"
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return Response(
            orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json"
        )
