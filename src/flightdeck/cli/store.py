"""``flightdeck migrate``: bring the store's schema to this release's head, and nothing else.

Kubernetes runs it in each new pod's init container (``deploy/k8s``): the first pod migrates
under the store's lock (a PostgreSQL advisory lock, a file lock for SQLite), the others find the
schema at head and start at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.cli.context import fail, one_line_errors, settings_for
from flightdeck.store.database import Migration, Store, head_revision


@one_line_errors
def migrate(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="change nothing; exit 1 when migrations are pending")
    ] = False,
) -> None:
    """Migrate the store to this release's schema (once, however many run it together)."""
    settings = settings_for(config)
    store = Store(settings.store_url)
    head = head_revision()

    async def run() -> Migration:
        try:
            if check:
                current = await store.revision()
                return Migration(current, current)
            return await store.migrate()
        finally:
            await store.close()

    try:
        done = asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:  # unreachable, refused, no such database
        where = make_url(settings.store_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"store {where}: {type(exc).__name__}: {reason}") from None
    if check:
        if done.after != head:
            raise fail(f"store at {done.after or 'an empty schema'}; head is {head}", code=1)
        print(f"store at head {head}")
    elif done.applied:
        print(f"store migrated from {done.before or 'an empty schema'} to {done.after}")
    else:
        print(f"store already at head {head}; nothing to do")
