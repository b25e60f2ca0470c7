"""Work that stops when the one who asked for it goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from flightdeck.core.errors import ClientGone

T = TypeVar("T")

# Resolves when the client is gone (an HTTP disconnect, a closed socket, a cancelled job).
GoneWaiter = Callable[[], Awaitable[None]]


async def until_gone(gone: GoneWaiter, call: Awaitable[T]) -> T:
    """Await ``call`` in the current task, cancelling it if ``gone()`` resolves first.

    Raises ``ClientGone`` when the client left first; the cancelled call sees
    ``CancelledError`` and cleans up (refunds, records) on its way out.
    """
    me = asyncio.current_task()
    assert me is not None
    left = False

    async def watch() -> None:
        nonlocal left
        await gone()
        left = True
        me.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await call
    except asyncio.CancelledError:
        if left:
            raise ClientGone("the client closed the connection") from None
        raise
    finally:
        watcher.cancel()
