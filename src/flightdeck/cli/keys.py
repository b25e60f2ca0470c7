"""``flightdeck keys``: create, list and revoke API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.cli.context import fail, one_line_errors, run_with_store, settings_for
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey

app = typer.Typer(help="Create, list and revoke API keys (stored hashed, shown once).")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]


@app.command("create")
@one_line_errors
def create(
    name: Annotated[str, typer.Option(help="what the key is for")],
    role: Annotated[Role, typer.Option(help="admin, member or viewer")] = Role.MEMBER,
    tenant: Annotated[str, typer.Option(help="the tenant the key belongs to")] = "default",
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it. It is shown once: store it now."""

    async def job(store: Store) -> tuple[ApiKey, str]:
        return await KeyStore(store).create(name, role=role, tenant=tenant)

    record, key = run_with_store(settings_for(config), job)
    Console(stderr=True).print(
        f"created key {record.id} ({record.name}, role {record.role}, tenant {record.tenant}); "
        "it will not be shown again:"
    )
    print(key)


@app.command("list")
@one_line_errors
def list_keys(config: ConfigOpt = None) -> None:
    """List keys (their prefixes only)."""

    async def job(store: Store) -> list[ApiKey]:
        return await KeyStore(store).list()

    table = Table("id", "name", "prefix", "tenant", "role", "created", "revoked")
    for k in run_with_store(settings_for(config), job):
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else ""
        created = k.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(str(k.id), k.name, k.prefix + "…", k.tenant, k.role, created, revoked)
    Console().print(table)


@app.command("revoke")
@one_line_errors
def revoke(
    key_id: Annotated[int, typer.Argument(help="the key's id (see keys list)")],
    config: ConfigOpt = None,
) -> None:
    """Revoke a key. Running gateways stop accepting it within auth.key_cache_seconds."""

    async def job(store: Store) -> bool:
        return await KeyStore(store).revoke(key_id)

    if not run_with_store(settings_for(config), job):
        raise fail(f"no live key with id {key_id}")
    print(f"revoked key {key_id}")
