"""``flightdeck keys``: create, list and revoke API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.auth.accounts import AccountKind, AccountStore
from flightdeck.auth.keys import KeyStore, Role
from flightdeck.cli.context import (
    command_group,
    fail,
    one_line_errors,
    run_with_store,
    settings_for,
)
from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey
from flightdeck.store.models_tenancy import Account

app = command_group("Create, list and revoke API keys (stored hashed, shown once).")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]


@app.command("create")
@one_line_errors
def create(
    name: Annotated[str, typer.Option(help="what the key is for")],
    role: Annotated[
        Role | None,
        typer.Option(help="admin, member or viewer; default member (a service account's role)"),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(help="the tenant; default 'default' (a service account's tenant)"),
    ] = None,
    service_account: Annotated[
        str | None, typer.Option(help="the service account that owns the key")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it. It is shown once: store it now."""

    async def job(store: Store) -> tuple[ApiKey, str]:
        if service_account is None:
            return await KeyStore(store).create(
                name, role=role or Role.MEMBER, tenant=tenant or "default"
            )
        owner = await owning_account(store, service_account, tenant)
        key_role = role or Role(owner.role)
        if not key_role.at_most(Role(owner.role)):
            raise InvalidRequest(
                f"role {key_role.value} exceeds service account {owner.name}'s role {owner.role}"
            )
        return await KeyStore(store).create(
            name, role=key_role, tenant=owner.tenant, account_id=owner.id
        )

    record, key = run_with_store(settings_for(config), job)
    owned = f", service account {service_account}" if service_account else ""
    Console(stderr=True).print(
        f"created key {record.id} ({record.name}, role {record.role}, tenant {record.tenant}"
        f"{owned}); it will not be shown again:"
    )
    print(key)


async def owning_account(store: Store, name: str, tenant: str | None) -> Account:
    """The service account ``name``: in ``tenant``, or the only one of that name anywhere."""
    found = await AccountStore(store).by_name(name, AccountKind.SERVICE, tenant)
    where = f" in tenant {tenant!r}" if tenant else ""
    if not found:
        raise NotFound(f"no service account {name!r}{where}")
    if len(found) > 1:
        tenants = ", ".join(a.tenant for a in found)
        raise InvalidRequest(f"service account {name!r} exists in {tenants}; pass --tenant")
    return found[0]


@app.command("list")
@one_line_errors
def list_keys(config: ConfigOpt = None) -> None:
    """List keys (their prefixes only)."""

    async def job(store: Store) -> tuple[list[ApiKey], dict[int, str]]:
        keys = await KeyStore(store).list()
        owners = await AccountStore(store).names({k.account_id for k in keys if k.account_id})
        return keys, owners

    keys, owners = run_with_store(settings_for(config), job)
    table = Table("id", "name", "prefix", "tenant", "role", "service account", "created", "revoked")
    for k in keys:
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else ""
        created = k.created_at.strftime("%Y-%m-%d %H:%M")
        owner = owners.get(k.account_id or 0, "")
        table.add_row(str(k.id), k.name, k.prefix + "…", k.tenant, k.role, owner, created, revoked)
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
