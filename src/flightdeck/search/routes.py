"""The search plane's HTTP routes: ``POST /v1/search`` and the documents' thumbnails.

Every route authenticates the caller like the gateway does (API key or OAuth access token in
the header) and looks collections up in the caller's own tenant only, so another tenant's
collection answers exactly like a missing one (404). Before a store is read, the collection's
store is checked again to be its tenant's own or shared with it (403 otherwise), and local
document sources are shown relative to the tenant's folder (never as absolute server paths).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flightdeck.api import authenticate_request, read_json_object
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal
from flightdeck.calls.accounting import Accounting
from flightdeck.calls.context import CallContext
from flightdeck.core.errors import RequestError
from flightdeck.core.settings import Settings
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.search.collections import CollectionStore
from flightdeck.search.engine import SearchEngine, hydrate
from flightdeck.search.outcomes import SearchOutcome
from flightdeck.search.ownership import display_source, hide_locations
from flightdeck.search.query import SearchQuery, parse_ranking, parse_search
from flightdeck.search.snapshot import Snapshot
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Collection
from flightdeck.telemetry.stages import Stage, no_stage

JSON = "application/json"


def documents_url(collection: str) -> str:
    return f"/v1/collections/{collection}/documents"


def no_match_reason(snapshot: Snapshot, query: SearchQuery, floor: float) -> str:
    """Why a search found nothing, in words a person can act on."""
    if not len(snapshot.documents):
        return "the collection has no documents yet"
    if query.filter is not None and not query.filter.mask(snapshot.documents).any():
        return "no document matches the filter"
    return (
        f"no good match: no document scored at least min_score {floor:g}; "
        "describe what is in the picture, or pass a lower min_score"
    )


class SearchRoutes:
    """``POST /v1/search``, the caller's collections and the documents' thumbnails."""

    def __init__(
        self,
        settings: Settings,
        auth: CallerAuthenticator,
        store: Store,
        accounting: Accounting,
        *,
        engine: SearchEngine | None = None,
        stage: Stage = no_stage,
        experiments: ExperimentRuntime | None = None,
    ) -> None:
        self.auth = auth
        self.experiments = experiments  # ranking experiments
        self.stage = stage  # telemetry: encode, ANN (in the engine), hydrate
        self.accounting = accounting
        self.collections = CollectionStore(store, settings.search_roots)
        self.engine = engine or SearchEngine(settings.search, settings.search_roots)
        self.engine.stage = stage
        self.max_body = settings.server.max_body_bytes

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/search", self.search, methods=["POST"]),
            Route("/v1/collections", self.list_collections, methods=["GET"]),
            Route(
                "/v1/collections/{name}/documents/{doc_id}/thumbnail",
                self.thumbnail,
                methods=["GET"],
            ),
        ]

    async def authenticate(self, request: Request) -> Principal:
        return await authenticate_request(self.auth, request)

    async def search(self, request: Request) -> Response:
        principal = await self.authenticate(request)
        query = parse_search(await read_json_object(request, self.max_body))
        collection = await self.collections.get(principal.tenant, query.collection)
        outcome = SearchOutcome(principal, collection.name)  # recorded, answered or failed
        served = CallContext(principal, model_group="", kind="chat")  # experiments' view
        try:
            body, headers = await self.answer(query, collection, outcome, served)
        except BaseException as exc:
            outcome.failed(exc)
            if self.accounting.ledger is not None:
                self.accounting.ledger.record(outcome.record(served))
            raise
        if self.accounting.ledger is not None:
            await self.accounting.ledger.commit(outcome.record(served))
        return Response(orjson.dumps(body), media_type=JSON, headers=headers)

    async def answer(
        self,
        query: SearchQuery,
        collection: Collection,
        outcome: SearchOutcome,
        served: CallContext,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The search's body and headers; ``outcome`` learns the result count and ``served``
        the ranking experiment's variant, if any."""
        principal = outcome.principal
        if self.experiments is not None:
            ranking = await self.experiments.assign_ranking(served, collection.name)
            if ranking is not None:
                query = dataclasses.replace(query, ranking=parse_ranking(ranking))
        # The caller's requests/minute and concurrency limits hold here too (no tokens, no cost).
        admitted = await self.accounting.admit_request(principal)
        try:
            with self.locations_hidden():
                uri = await self.collections.usable_uri(collection)
                snapshot, hits = await self.engine.search(uri, query)
        finally:
            await admitted.reconcile(0)
        roots, tenant = self.collections.roots, principal.tenant
        floor = self.engine.min_score(query)
        with self.stage("search.hydrate"):
            data = hydrate(
                snapshot,
                hits,
                documents_url(collection.name),
                source=lambda s: display_source(s, tenant, roots),
            )
        outcome.result_count = len(data)
        body = {
            "id": outcome.response_id,
            "object": "list",
            "collection": collection.name,
            "query": query.query,
            "min_score": floor,
            "data": data,
            "no_match_reason": None if hits else no_match_reason(snapshot, query, floor),
            "index": {
                "documents": len(snapshot.documents),
                "indexes": {n: e.index.kind for n, e in snapshot.indexes.items()},
            },
        }
        headers = dict(admitted.headers)
        headers.update((k.decode(), v.decode()) for k, v in served.experiment_headers())
        return body, headers

    async def list_collections(self, request: Request) -> Response:
        principal = await self.authenticate(request)
        data = [
            {"name": c.name, "description": c.description}
            for c in await self.collections.list(principal.tenant)
        ]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def thumbnail(self, request: Request) -> Response:
        principal = await self.authenticate(request)
        name = request.path_params["name"]
        collection = await self.collections.get(principal.tenant, name)
        with self.locations_hidden():
            uri = await self.collections.usable_uri(collection)
            thumbnail = await self.engine.thumbnail(uri, request.path_params["doc_id"])
        return Response(
            thumbnail.data,
            media_type=thumbnail.media_type,
            headers={"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"},
        )

    @contextlib.contextmanager
    def locations_hidden(self) -> Iterator[None]:
        """A store that fails to open says why, but not where it lies on the server."""
        try:
            yield
        except RequestError as exc:
            exc.message = hide_locations(exc.message, self.collections.roots)
            exc.args = (exc.message,)
            raise

    def close(self) -> None:
        self.engine.close()
