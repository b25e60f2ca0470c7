"""``flightdeck users`` and ``flightdeck service-accounts``: run on the store directly (an
operator's tool, like ``flightdeck tenants``); the HTTP equivalents are /admin/users and
/admin/service-accounts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flightdeck.auth.accounts import AccountKind, AccountStore, registration_issuer
from flightdeck.auth.keys import Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.cli.context import command_group, one_line_errors, run_with_store, settings_for
from flightdeck.core.errors import NotFound
from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Account

users_app = command_group("Register OAuth users; their role here overrides their tokens'.")
service_accounts_app = command_group("Service accounts: robots that own API keys.")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
TenantOpt = Annotated[str, typer.Option(help="the tenant")]
NameArg = Annotated[str, typer.Argument(help="lowercase letters, digits, '.', '_', '-', '@'")]


async def tenant_must_exist(settings: Settings, store: Store, tenant: str) -> None:
    if tenant != settings.auth.platform_tenant and await TenantStore(store).get(tenant) is None:
        raise NotFound(f"tenant {tenant!r} does not exist")


async def account_named(store: Store, name: str, kind: AccountKind, tenant: str) -> Account:
    found = await AccountStore(store).by_name(name, kind, tenant)
    if not found:
        what = "user" if kind is AccountKind.USER else "service account"
        raise NotFound(f"no {what} {name!r} in tenant {tenant!r}")
    return found[0]


def create_account(
    name: str,
    kind: AccountKind,
    tenant: str,
    role: Role,
    config: Path | None,
    *,
    subject: str | None = None,
    issuer: str | None = None,
) -> Account:
    settings = settings_for(config)

    async def job(store: Store) -> Account:
        await tenant_must_exist(settings, store, tenant)
        chosen = None
        if kind is AccountKind.USER:
            chosen = registration_issuer(settings.auth.oauth, issuer, tenant)
        return await AccountStore(store).create(
            tenant, name, kind=kind, role=role, subject=subject, issuer=chosen
        )

    return run_with_store(settings, job)


def print_accounts(tenant: str, kind: AccountKind, config: Path | None) -> None:
    async def job(store: Store) -> list[Account]:
        return await AccountStore(store).list(tenant, kind)

    columns = ["id", "name", "role", "created"]
    if kind is AccountKind.USER:
        columns[2:2] = ["issuer", "subject"]
    table = Table(*columns)
    for a in run_with_store(settings_for(config), job):
        cells = [str(a.id), a.name, a.role, a.created_at.strftime("%Y-%m-%d %H:%M")]
        if kind is AccountKind.USER:
            cells[2:2] = [a.issuer or "", a.subject or ""]
        table.add_row(*cells)
    Console().print(table)


def set_account_role(
    name: str, kind: AccountKind, tenant: str, role: Role, config: Path | None
) -> None:
    async def job(store: Store) -> None:
        account = await account_named(store, name, kind, tenant)
        await AccountStore(store).set_role(account.id, role)

    run_with_store(settings_for(config), job)


def delete_account(name: str, kind: AccountKind, tenant: str, config: Path | None) -> int:
    async def job(store: Store) -> int:
        account = await account_named(store, name, kind, tenant)
        return await AccountStore(store).delete(account.id)

    return run_with_store(settings_for(config), job)


@users_app.command("create")
@one_line_errors
def create_user(
    name: NameArg,
    tenant: TenantOpt,
    subject: Annotated[str, typer.Option(help="the `sub` claim of the user's access tokens")],
    role: Annotated[Role, typer.Option(help="admin, member or viewer")] = Role.MEMBER,
    issuer: Annotated[
        str | None,
        typer.Option(help="the `iss` of the user's tokens; default: the only configured issuer"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Register a user of a tenant (an OAuth identity: issuer and subject)."""
    user = create_account(
        name, AccountKind.USER, tenant, role, config, subject=subject, issuer=issuer
    )
    print(f"created user {user.name} (role {user.role}) in tenant {user.tenant}")


@users_app.command("list")
@one_line_errors
def list_users(tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """List the registered users of a tenant."""
    print_accounts(tenant, AccountKind.USER, config)


@users_app.command("set-role")
@one_line_errors
def set_user_role(
    name: NameArg,
    tenant: TenantOpt,
    role: Annotated[Role, typer.Option(help="admin, member or viewer")],
    config: ConfigOpt = None,
) -> None:
    """Change a user's role; servers apply it within auth.key_cache_seconds."""
    set_account_role(name, AccountKind.USER, tenant, role, config)
    print(f"user {name} of tenant {tenant} is now {role.value}")


@users_app.command("delete")
@one_line_errors
def delete_user(name: NameArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Unregister a user: their tokens' role claim applies again."""
    delete_account(name, AccountKind.USER, tenant, config)
    print(f"deleted user {name} of tenant {tenant}")


@service_accounts_app.command("create")
@one_line_errors
def create_service_account(
    name: NameArg,
    tenant: TenantOpt,
    role: Annotated[Role, typer.Option(help="the most its keys may have")] = Role.MEMBER,
    config: ConfigOpt = None,
) -> None:
    """Create a service account; give it keys with `flightdeck keys create --service-account`."""
    account = create_account(name, AccountKind.SERVICE, tenant, role, config)
    print(f"created service account {account.name} (role {account.role}) in tenant {tenant}")


@service_accounts_app.command("list")
@one_line_errors
def list_service_accounts(tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """List the service accounts of a tenant."""
    print_accounts(tenant, AccountKind.SERVICE, config)


@service_accounts_app.command("set-role")
@one_line_errors
def set_service_account_role(
    name: NameArg,
    tenant: TenantOpt,
    role: Annotated[Role, typer.Option(help="the most its keys may have")],
    config: ConfigOpt = None,
) -> None:
    """Change a service account's role: its keys act with at most this role."""
    set_account_role(name, AccountKind.SERVICE, tenant, role, config)
    print(f"service account {name} of tenant {tenant} is now {role.value}")


@service_accounts_app.command("delete")
@one_line_errors
def delete_service_account(name: NameArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Delete a service account and revoke its keys."""
    revoked = delete_account(name, AccountKind.SERVICE, tenant, config)
    print(f"deleted service account {name} of tenant {tenant}; revoked {revoked} key(s)")
