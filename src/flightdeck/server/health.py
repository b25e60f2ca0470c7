"""Liveness and readiness. Unauthenticated by design; they say nothing secret."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.auth.keys import Authenticator
from flightdeck.calls import Accounting, Router
from flightdeck.store.database import Store


class Health:
    """``/healthz`` (the process answers) and ``/readyz`` (what this replica can serve).

    The readiness policy (docs/operations.md): ready while this replica can authenticate
    someone; a store outage with keys in the cache is ``degraded`` (200), a store outage with no
    key cached is ``unavailable`` (503): every request would fail with 503 ``auth_unavailable``.
    """

    def __init__(
        self, store: Store, router: Router, accounting: Accounting, keys: Authenticator
    ) -> None:
        self.store = store
        self.router = router
        self.accounting = accounting
        self.keys = keys

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
        and the answer stays 200; a replica that cannot authenticate anyone (store unreachable
        and no key in its cache) answers 503 ``unavailable``.
        """
        store_ok = await self.store.ping()
        checks: dict[str, Any] = {"store": "ok" if store_ok else "unreachable"}
        if store_ok:
            checks["auth"] = "ok"
        else:
            checks["auth"] = "cached_keys" if self.keys.has_cached_callers() else "unavailable"
        deployments = {}
        for dep in self.router.deployments():
            ready = await dep.provider.ready()
            deployments[dep.id] = dep.circuit.state.value if ready else "loading"
        checks["deployments"] = deployments
        parts = self.accounting.health()
        checks.update(parts)
        states = [part.get("state") for part in parts.values() if isinstance(part, dict)]
        degraded = checks["store"] != "ok" or any(s not in ("ok", "disabled") for s in states)
        if checks["auth"] == "unavailable":
            body = {"status": "unavailable", "checks": checks}
            return Response(orjson.dumps(body), status_code=503, media_type="application/json")
        body = {"status": "degraded" if degraded else "ready", "checks": checks}
        return Response(orjson.dumps(body), media_type="application/json")
