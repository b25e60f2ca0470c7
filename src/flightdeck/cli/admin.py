"""``flightdeck tenants``, ``flightdeck budgets`` and ``flightdeck usage``: run on the store
directly (an operator's tool, like ``flightdeck keys``); the HTTP equivalents live under /admin.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
from flightdeck.core.tenancy_settings import LimitRule
from flightdeck.ledger.queries import GroupBy, UsageQuery, UsageTotals, query_usage
from flightdeck.limits.policy import TENANT_SCOPE, Level, PolicyStore
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Tenant

tenants_app = command_group("Create and list tenants (teams).")
budgets_app = command_group("Set rate limits and monthly budgets of a tenant or one key.")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]


@tenants_app.command("create")
@one_line_errors
def create_tenant(
    name: Annotated[str, typer.Argument(help="lowercase letters, digits, '.', '_', '-'")],
    display_name: Annotated[str, typer.Option(help="a human-friendly name")] = "",
    config: ConfigOpt = None,
) -> None:
    """Create a tenant."""

    settings = settings_for(config)

    async def job(store: Store) -> Tenant:
        return await TenantStore(store, settings.auth.platform_tenant).create(name, display_name)

    tenant = run_with_store(settings, job)
    print(f"created tenant {tenant.name}")


@tenants_app.command("list")
@one_line_errors
def list_tenants(config: ConfigOpt = None) -> None:
    """List tenants, the platform tenant first (it exists without being created)."""
    settings = settings_for(config)

    async def job(store: Store) -> list[Tenant]:
        return await TenantStore(store).list()

    table = Table("name", "display name", "created")
    table.add_row(settings.auth.platform_tenant, "(platform tenant: its admins manage all)", "-")
    for t in run_with_store(settings, job):
        table.add_row(t.name, t.display_name, t.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)


@budgets_app.command("set")
@one_line_errors
def set_budget(
    tenant: Annotated[str, typer.Option(help="the tenant")],
    key: Annotated[int | None, typer.Option(help="a key id; omit for the whole tenant")] = None,
    rpm: Annotated[int | None, typer.Option(help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(help="tokens per minute")] = None,
    concurrent: Annotated[int | None, typer.Option(help="concurrent requests")] = None,
    monthly: Annotated[float | None, typer.Option(help="monthly budget, in currency")] = None,
    level: Annotated[
        Level, typer.Option(help="ceiling (platform-set) or tenant (set under the ceiling)")
    ] = Level.CEILING,
    config: ConfigOpt = None,
) -> None:
    """Set (replace) the limits of a tenant or key at one level; an omitted limit means
    unlimited at that level. The stricter of the ceiling and the tenant level applies."""
    for name, value in (
        ("rpm", rpm),
        ("tpm", tpm),
        ("concurrent", concurrent),
        ("monthly", monthly),
    ):
        if value is not None and value < 0:
            raise fail(f"--{name} must not be negative")
    settings = settings_for(config)
    rule = LimitRule(
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        concurrent_requests=concurrent,
        monthly_budget=monthly,
    )

    async def job(store: Store) -> None:
        if tenant != settings.auth.platform_tenant and await TenantStore(store).get(tenant) is None:
            raise InvalidRequest(f"tenant {tenant!r} does not exist")
        await PolicyStore(store, settings.limits).set_as(
            tenant, rule, key or TENANT_SCOPE, platform_admin=True, level=level
        )

    run_with_store(settings, job)
    scope = f"key {key} of tenant {tenant}" if key else f"tenant {tenant}"
    print(f"limits set for {scope} ({level.value} level)")


@one_line_errors
def usage(
    tenant: Annotated[
        str | None, typer.Option(help="the tenant; default: the platform tenant")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option("--from", help="start (UTC); default: this month")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="end (UTC); default: now")] = None,
    group_by: Annotated[GroupBy, typer.Option(help="model, key or day")] = GroupBy.MODEL,
    config: ConfigOpt = None,
) -> None:
    """Usage of a tenant: requests, tokens and cost per model, key or day."""
    now = datetime.now(UTC)
    to = (end or now).replace(tzinfo=UTC) if (end or now).tzinfo is None else (end or now)
    frm = start.replace(tzinfo=UTC) if start else to.replace(day=1, hour=0, minute=0, second=0)
    if to <= frm:
        raise fail("--to must be after --from")

    settings = settings_for(config)
    tenant = tenant or settings.auth.platform_tenant

    async def job(store: Store) -> list[UsageTotals]:
        async with store.engine.connect() as conn:
            return await query_usage(conn, UsageQuery(tenant, frm, to, group_by))

    rows = run_with_store(settings, job)
    table = Table(
        group_by.value,
        "requests",
        "errors",
        "input",
        "output",
        "cached",
        "cost",
        title=f"{tenant}: {frm:%Y-%m-%d %H:%M} .. {to:%Y-%m-%d %H:%M} UTC",
    )
    for r in rows:
        table.add_row(
            r.group,
            str(r.requests),
            str(r.errors),
            str(r.input_tokens),
            str(r.output_tokens),
            str(r.cached_tokens),
            f"{r.cost:.4f} {settings.limits.currency}",
        )
    Console().print(table)
