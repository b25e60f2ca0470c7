"""``flightdeck``: start the platform, manage keys, check configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from flightdeck import __version__
from flightdeck.auth.keys import KeyStore, Role
from flightdeck.cli import accounts as accounts_cli
from flightdeck.cli import admin as admin_cli
from flightdeck.cli import keys as keys_cli
from flightdeck.cli import media as media_cli
from flightdeck.cli import search as search_cli
from flightdeck.cli.context import config_path, one_line_errors, run_with_store, settings_for
from flightdeck.core.settings import Settings
from flightdeck.providers.registry import ProviderRegistry
from flightdeck.server.app import create_app
from flightdeck.store.database import Store

app = typer.Typer(no_args_is_help=True, help="Flightdeck: gateway, assistant and media platform.")
config_app = typer.Typer(help="Check configuration files.")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(config_app, name="config")
app.add_typer(media_cli.app, name="media")
app.add_typer(admin_cli.tenants_app, name="tenants")
app.add_typer(admin_cli.budgets_app, name="budgets")
app.add_typer(accounts_cli.users_app, name="users")
app.add_typer(accounts_cli.service_accounts_app, name="service-accounts")
app.command("usage")(admin_cli.usage)
app.add_typer(search_cli.collections_app, name="collections")
app.command("search")(search_cli.search)
console = Console()
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]


@app.command()
@one_line_errors
def up(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="override [server] host")] = None,
    port: Annotated[int | None, typer.Option(help="override [server] port")] = None,
) -> None:
    """Start on embedded defaults: SQLite in ./.flightdeck/, local models, an admin key."""
    settings = settings_for(config, embedded=True)
    _override(settings, host, port)

    async def first_key(store: Store) -> str | None:
        keys = KeyStore(store)
        if await keys.count():
            return None
        _, key = await keys.create("admin (created by flightdeck up)", role=Role.ADMIN)
        return key

    key = run_with_store(settings, first_key)
    url = f"http://{settings.server.host}:{settings.server.port}"
    console.print(f"[bold]Flightdeck {__version__}[/] on [link={url}]{url}[/link]")
    console.print(f"store: {settings.store_url}")
    console.print("models: " + ", ".join(settings.model_names()))
    if key:
        console.print("first start: an admin API key was created. It is shown once:")
        console.print(f"  [bold]{key}[/]", highlight=False)
    _serve(settings)


@app.command()
@one_line_errors
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="TOML config file")],
    host: Annotated[str | None, typer.Option(help="override [server] host")] = None,
    port: Annotated[int | None, typer.Option(help="override [server] port")] = None,
) -> None:
    """Start with exactly the configuration in FILE (plus FLIGHTDECK_* overrides)."""
    settings = settings_for(config)
    _override(settings, host, port)
    _serve(settings)


@config_app.command("check")
@one_line_errors
def config_check(path: Annotated[Path, typer.Argument(help="TOML config file")]) -> None:
    """Validate a config file: keys, values, providers, fallbacks, secrets."""
    settings = settings_for(path)
    registry = ProviderRegistry.default()
    for m in settings.models:
        registry.get(m.provider)
    groups = settings.model_names()
    print(f"ok: {config_path(path)}: {len(settings.models)} deployments in {len(groups)} groups")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def _override(settings: Settings, host: str | None, port: int | None) -> None:
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port


def _serve(settings: Settings) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.server.host,
            port=settings.server.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=settings.server.access_log,
            log_level="info",
            timeout_graceful_shutdown=10,
        )
    )
    server.run()  # sets up uvloop as configured


def main() -> None:
    app()
