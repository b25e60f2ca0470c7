"""``flightdeck collections``, ``flightdeck stores`` and ``flightdeck search``: run on the store
directly, like ``flightdeck tenants``; the HTTP equivalents are /admin/collections,
/admin/store-shares and /v1/search. The same ownership rules hold as over HTTP: a collection
points at its tenant's own store (``<root>/tenants/<tenant>/...``) or at one shared with it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.auth.tenants import TenantStore
from flightdeck.cli.context import (
    command_group,
    fail,
    one_line_errors,
    run_with_store,
    settings_for,
)
from flightdeck.core.errors import InvalidRequest
from flightdeck.search.collections import CollectionStore
from flightdeck.search.engine import SearchEngine, hydrate
from flightdeck.search.query import MAX_K, SearchQuery
from flightdeck.search.routes import documents_url, no_match_reason
from flightdeck.search.shares import ShareStore
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Collection, StoreShare

collections_app = command_group("Register media stores as searchable collections of a tenant.")
stores_app = command_group("Share a media store with a tenant that does not own it.")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
TenantOpt = Annotated[
    str | None, typer.Option(help="the owning tenant; default: the platform tenant")
]


def _absolute(uri: str) -> str:
    """A path starting with ``./`` or ``../`` is taken from the working directory; anything else
    is passed on as written (an absolute location, a store name in the tenant's folder,
    ``shared:<name>``)."""
    return os.path.abspath(uri) if uri.startswith(("./", "../")) else uri


def where_stores_lie(message: str, tenant: str, roots: list[str]) -> str:
    """``message`` plus the allowed roots and where the tenant's own stores lie under them."""
    shown = [root if "://" in root else os.path.abspath(root) for root in roots]
    folders = ", ".join(f"{root}/tenants/{tenant}/" for root in shown)
    return (
        f"{message}; allowed roots (setting search.roots): {', '.join(shown)}; the stores "
        f"of tenant {tenant} lie in {folders} (flightdeck media ingest ... --out there)"
    )


@collections_app.command("create")
@one_line_errors
def create_collection(
    name: Annotated[str, typer.Argument(help="lowercase letters, digits, '.', '_', '-'")],
    uri: Annotated[
        str,
        typer.Argument(
            help="the media store: a path under a [search] root, its name in the tenant's "
            "folder, or shared:<share>"
        ),
    ],
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
        try:
            return await collections.create(owner, name, _absolute(uri), description)
        except InvalidRequest as exc:  # the operator may see the roots; a tenant never does
            raise InvalidRequest(
                where_stores_lie(exc.message, owner, settings.search_roots)
            ) from None

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
    min_score: Annotated[
        float | None,
        typer.Option(min=-1.0, max=1.0, help="relevance floor (default [search] min_score)"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Search a collection and print the best matches (none when nothing is close)."""
    settings = settings_for(config)
    owner = tenant or settings.auth.platform_tenant
    engine = SearchEngine(settings.search, settings.search_roots)

    async def job(store: Store) -> tuple[list[dict[str, object]], str]:
        collections = CollectionStore(store, settings.search_roots)
        record = await collections.get(owner, collection)
        uri = await collections.usable_uri(record)
        wanted = SearchQuery(collection, query, k, min_score=min_score)
        snapshot, hits = await engine.search(uri, wanted)
        reason = "" if hits else no_match_reason(snapshot, wanted, engine.min_score(wanted))
        return hydrate(snapshot, hits, documents_url(collection)), reason

    try:
        results, reason = run_with_store(settings, job)
    finally:
        engine.close()
    if reason:  # like grep: nothing found is exit status 1
        raise fail(reason, code=1)
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


@stores_app.command("share")
@one_line_errors
def share_store(
    uri: Annotated[str, typer.Argument(help="the store's location under a [search] root")],
    tenant: Annotated[str, typer.Option(help="the tenant to share it with")],
    name: Annotated[
        str | None, typer.Option(help="how the tenant names it (shared:NAME); default: folder")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Share the store at URI with a tenant that does not own it."""
    settings = settings_for(config)

    async def job(store: Store) -> StoreShare:
        if not await TenantStore(store, settings.auth.platform_tenant).exists(tenant):
            raise InvalidRequest(f"tenant {tenant!r} does not exist")
        shares = ShareStore(store, settings.search_roots)
        return await shares.create(tenant, _absolute(uri), name, "cli")

    share = run_with_store(settings, job)
    print(f"shared {share.uri} with tenant {share.tenant} as shared:{share.name}")


@stores_app.command("unshare")
@one_line_errors
def unshare_store(
    name: Annotated[str, typer.Argument(help="the share's name")],
    tenant: Annotated[str, typer.Option(help="the tenant it is shared with")],
    config: ConfigOpt = None,
) -> None:
    """Stop sharing a store: the tenant's collections over it stop answering."""
    settings = settings_for(config)

    async def job(store: Store) -> None:
        await ShareStore(store, settings.search_roots).delete(tenant, name)

    run_with_store(settings, job)
    print(f"tenant {tenant} no longer has shared:{name}")


@stores_app.command("shares")
@one_line_errors
def list_shares(
    tenant: Annotated[str | None, typer.Option(help="one tenant; default: all")] = None,
    config: ConfigOpt = None,
) -> None:
    """List the shared stores."""
    settings = settings_for(config)

    async def job(store: Store) -> list[StoreShare]:
        return await ShareStore(store, settings.search_roots).list(tenant)

    table = Table("tenant", "name", "uri", "created")
    for s in run_with_store(settings, job):
        table.add_row(s.tenant, s.name, s.uri, s.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)
