"""What every command needs: settings from ``--config``, errors as one line, a store to use."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from flightdeck.core.errors import FlightdeckError

if TYPE_CHECKING:  # settings (pydantic) and the store (SQLAlchemy, Alembic) load only in the
    # commands that use them: together 0.8 s that `flightdeck media ingest` does not pay
    from flightdeck.core.settings import Settings
    from flightdeck.store.database import Store

P = ParamSpec("P")
T = TypeVar("T")
err_console = Console(stderr=True)


class PlainHelpGroup(TyperGroup):
    """A command group whose ``--help`` wraps every line to the terminal (plain click layout):
    rich's boxed help cut option names and command summaries with '…' at 80 columns."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:  # typer's vendored click
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                # the first sentence whole, wrapped by write_dl, never cut with "..."
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(help: str, **options: Any) -> typer.Typer:
    """A typer app for a group of commands, with help that reads well at 80 columns."""
    return typer.Typer(help=help, cls=PlainHelpGroup, rich_markup_mode=None, **options)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def one_line_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn Flightdeck errors into one line on stderr and exit status 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except FlightdeckError as exc:
            raise fail(exc.message) from None
        except OSError as exc:
            raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper


def config_path(path: Path | None) -> Path | None:
    if path is not None:
        return path
    env = os.environ.get("FLIGHTDECK_CONFIG")
    return Path(env) if env else None


def settings_for(path: Path | None, *, embedded: bool = False) -> Settings:
    """Settings from the file (or ``FLIGHTDECK_CONFIG``); ``embedded`` adds the local models."""
    from flightdeck.core.settings import Settings, default_local_models, load_settings

    defaults: dict[str, Any] = {}
    path = config_path(path)
    settings = load_settings(path, os.environ, defaults=defaults)
    if embedded:
        have = {m.name for m in settings.models}
        extra = [m for m in default_local_models() if m["name"] not in have]
        if extra:
            data = settings.model_dump(mode="python")
            data["models"] = [*data["models"], *extra]
            for m in data["models"]:  # SecretStr values survive the round trip
                if m.get("api_key") is not None:
                    m["api_key"] = m["api_key"].get_secret_value()
            settings = Settings.model_validate(data)
    return settings


def run_with_store(
    settings: Settings, job: Callable[[Store], Awaitable[T]], *, announce: bool = False
) -> T:
    """Run ``job`` on the migrated store. An upgrade of an existing store is always reported
    on stderr; a new store's first migration only with ``announce`` (``up``, ``serve``), so
    one-shot commands keep their output to one line."""

    async def main() -> T:
        from flightdeck.store.database import Store

        store = Store(settings.store_url)
        try:
            done = await store.migrate()
            if done.applied and (done.before or announce):
                before = done.before or "an empty schema"
                err_console.print(f"store: schema migrated from {before} to {done.after}")
            return await job(store)
        finally:
            await store.close()

    return asyncio.run(main())


def is_tty() -> bool:
    return sys.stdout.isatty()
