"""``flightdeck collections`` and ``flightdeck search``: run on the store directly, like
``flightdeck tenants``; the HTTP equivalents are /admin/collections and /v1/search."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.auth.tenants import TenantStore
from flightdeck.cli.context import one_line_errors, run_with_store, settings_for
from flightdeck.core.errors import InvalidRequest
from flightdeck.search.collections import CollectionStore
from flightdeck.search.engine import SearchEngine, hydrate
from flightdeck.search.query import MAX_K, SearchQuery
from flightdeck.search.routes import documents_url
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Collection

collections_app = typer.Typer(help="Register media stores as searchable collections of a tenant.")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
TenantOpt = Annotated[
    str | None, typer.Option(help="the owning tenant; default: the platform tenant")
]


def _absolute(uri: str) -> str:
    """A relative local path is taken relative to the working directory."""
    return uri if "://" in uri else os.path.abspath(uri)


@collections_app.command("create")
@one_line_errors
def create_collection(
    name: Annotated[str, typer.Argument(help="lowercase letters, digits, '.', '_', '-'")],
    uri: Annotated[str, typer.Argument(help="the media store (under a [search] root)")],
    tenant: TenantOpt = None,
    description: Annotated[str, typer.Option(help="what the collection holds")] = "",
    config: ConfigOpt = None,
) -> None:
    """Register the media store at URI as collection NAME of a tenant."""
    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant

    async def job(store: Store) -> Collection:
        if owner != settings.auth.platform_tenant and await TenantStore(store).get(owner) is None:
            raise InvalidRequest(f"tenant {owner!r} does not exist")
        collections = CollectionStore(store, settings.search_roots)
        return await collections.create(owner, name, _absolute(uri), description)

    record = run_with_store(settings, job)
    print(f"created collection {record.name} of tenant {record.tenant}: {record.uri}")


@collections_app.command("list")
@one_line_errors
def list_collections(tenant: TenantOpt = None, config: ConfigOpt = None) -> None:
    """List a tenant's collections."""
    settings = settings_for(config)

    async def job(store: Store) -> list[Collection]:
        collections = CollectionStore(store, settings.search_roots)
        return await collections.list(tenant or settings.auth.platform_tenant)

    table = Table("name", "uri", "description", "created")
    for c in run_with_store(settings, job):
        table.add_row(c.name, c.uri, c.description, c.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)


@collections_app.command("delete")
@one_line_errors
def delete_collection(
    name: Annotated[str, typer.Argument(help="the collection")],
    tenant: TenantOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Remove a collection (only the pointer: the media store is left as it is)."""
    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant

    async def job(store: Store) -> None:
        await CollectionStore(store, settings.search_roots).delete(owner, name)

    run_with_store(settings, job)
    print(f"deleted collection {name} of tenant {owner}")


@one_line_errors
def search(
    collection: Annotated[str, typer.Argument(help="the collection")],
    query: Annotated[str, typer.Argument(help="what to look for")],
    tenant: TenantOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_K, help="how many results")] = 10,
    config: ConfigOpt = None,
) -> None:
    """Search a collection and print the best matches."""
    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant
    engine = SearchEngine(settings.search, settings.search_roots)

    async def job(store: Store) -> list[dict[str, object]]:
        record = await CollectionStore(store, settings.search_roots).get(owner, collection)
        snapshot, hits = await engine.search(record.uri, SearchQuery(collection, query, k))
        return hydrate(snapshot, hits, documents_url(collection))

    try:
        results = run_with_store(settings, job)
    finally:
        engine.close()
    table = Table("#", "score", "caption", "source", "doc_id", title=f"{collection}: {query}")
    for rank, hit in enumerate(results, 1):
        table.add_row(
            str(rank),
            f"{hit['score']:.3f}",
            str(hit["caption"] or ""),
            str(hit["source"]),
            str(hit["doc_id"]),
        )
    Console().print(table)
