"""``flightdeck``: start the platform, manage keys, check configuration.

The server, its providers and the store load inside the commands that need them, so
``flightdeck media ingest`` (and every worker it starts) does not pay for importing them.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from flightdeck import __version__
from flightdeck.cli.context import (
    command_group,
    config_path,
    err_console,
    one_line_errors,
    run_with_store,
    settings_for,
)

if TYPE_CHECKING:
    from flightdeck.core.settings import Settings
    from flightdeck.store.database import Store

app = command_group("Flightdeck: gateway, assistant and media platform.", no_args_is_help=True)
config_app = command_group("Check configuration files.")
app.add_typer(config_app, name="config")
# Sub-commands living in their own modules: name -> (module, attribute, a group of commands?).
# main() imports only the one asked for (all of them for --help).
SUBCOMMANDS: dict[str, tuple[str, str, bool]] = {
    "keys": ("flightdeck.cli.keys", "app", True),
    "media": ("flightdeck.cli.media", "app", True),
    "tenants": ("flightdeck.cli.admin", "tenants_app", True),
    "budgets": ("flightdeck.cli.admin", "budgets_app", True),
    "users": ("flightdeck.cli.accounts", "users_app", True),
    "service-accounts": ("flightdeck.cli.accounts", "service_accounts_app", True),
    "usage": ("flightdeck.cli.admin", "usage", False),
    "collections": ("flightdeck.cli.search", "collections_app", True),
    "stores": ("flightdeck.cli.search", "stores_app", True),
    "search": ("flightdeck.cli.search", "search", False),
    "migrate": ("flightdeck.cli.store", "migrate", False),
    "experiments": ("flightdeck.cli.experiments", "app", True),
}
console = Console()
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        min=1, max=256, help="worker processes sharing the port (default [server] workers)"
    ),
]


def _print_version(value: bool) -> None:
    if value:
        print(f"flightdeck {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Flightdeck: gateway, assistant and media platform."""


@app.command()
@one_line_errors
def up(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="override [server] host")] = None,
    port: Annotated[int | None, typer.Option(help="override [server] port")] = None,
    workers: WorkersOpt = None,
) -> None:
    """Start on embedded defaults: SQLite in ./.flightdeck/, local models, an admin key."""
    settings = settings_for(config, embedded=True)
    _override(settings, host, port)

    from flightdeck.auth.keys import KeyStore, Role

    async def first_key(store: Store) -> str | None:
        keys = KeyStore(store)
        if await keys.count():
            return None
        _, key = await keys.create("admin (created by flightdeck up)", role=Role.ADMIN)
        return key

    # before any worker starts: one key, ever
    key = run_with_store(settings, first_key, announce=True)
    _serve(settings, workers, key)


@app.command()
@one_line_errors
def serve(
    config: Annotated[
        Path, typer.Option("--config", "-c", envvar="FLIGHTDECK_CONFIG", help="TOML config file")
    ],
    host: Annotated[str | None, typer.Option(help="override [server] host")] = None,
    port: Annotated[int | None, typer.Option(help="override [server] port")] = None,
    workers: WorkersOpt = None,
) -> None:
    """Start with exactly the configuration in FILE (plus FLIGHTDECK_* overrides)."""
    settings = settings_for(config)
    _override(settings, host, port)
    _serve(settings, workers)


@config_app.command("check")
@one_line_errors
def config_check(path: Annotated[Path, typer.Argument(help="TOML config file")]) -> None:
    """Validate a config file: keys, values, providers, fallbacks, secrets."""
    from flightdeck.providers.registry import ProviderRegistry

    settings = settings_for(path)
    registry = ProviderRegistry.default()
    for m in settings.models:
        registry.get(m.provider)
    groups = settings.model_names()
    print(f"ok: {config_path(path)}: {len(settings.models)} deployments in {len(groups)} groups")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the configuration file (deploy/flightdeck.schema.json)."""
    from flightdeck.core.settings import settings_json_schema

    print(json.dumps(settings_json_schema(), indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def _override(settings: Settings, host: str | None, port: int | None) -> None:
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port


def _serve(settings: Settings, workers: int | None, first_key: str | None = None) -> None:
    """Migrate the store here, once, print the start banner, then serve (in ``workers``
    processes)."""
    from flightdeck.cli.banner import start_banner
    from flightdeck.cli.serving import serve

    async def nothing(store: Store) -> None:
        return None

    # a migration error is one line here, not a traceback
    run_with_store(settings, nothing, announce=True)
    for line in start_banner(settings, first_key):
        console.print(line, highlight=False, soft_wrap=True)
    count = workers if workers is not None else settings.server.workers
    if count > 1 and settings.limits.backend == "memory":
        err_console.print(
            f'warning: [limits] backend = "memory" with {count} workers: each worker enforces '
            'every limit on its own; set backend = "redis" to share them',
            highlight=False,
            soft_wrap=True,
        )
    serve(settings, count)


def register(names: list[str]) -> None:
    for name in names:
        module, attribute, group = SUBCOMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


def main() -> None:
    first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if first in SUBCOMMANDS:
        register([first])
    elif first not in ("up", "serve", "version", "config"):  # help, or a typo to explain
        register(list(SUBCOMMANDS))
    app()
