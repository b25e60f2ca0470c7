"""Liveness and readiness. Unauthenticated by design; they say nothing secret."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.calls import Accounting, Router
from flightdeck.store.database import Store


class Health:
    """``/healthz`` (the process answers) and ``/readyz`` (what this replica can serve)."""

    def __init__(self, store: Store, router: Router, accounting: Accounting) -> None:
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
        """200 whenever this replica can serve, with what is degraded in the body.

        A store, Redis or PostgreSQL outage is shared by every replica; failing readiness for
        it would make a load balancer pull them all at once, while each can still serve (keys
        from cache, limits per replica, usage spooled to disk). So those show as ``degraded``
        and the answer stays 200; only a replica that cannot serve at all would answer 503.
        """
        checks: dict[str, Any] = {"store": "ok" if await self.store.ping() else "unreachable"}
        deployments = {}
        for dep in self.router.deployments():
            ready = await dep.provider.ready()
            deployments[dep.id] = dep.circuit.state.value if ready else "loading"
        checks["deployments"] = deployments
        parts = self.accounting.health()
        checks.update(parts)
        states = [part.get("state") for part in parts.values() if isinstance(part, dict)]
        degraded = checks["store"] != "ok" or any(s not in ("ok", "disabled") for s in states)
        body = {"status": "degraded" if degraded else "ready", "checks": checks}
        return Response(orjson.dumps(body), media_type="application/json")
