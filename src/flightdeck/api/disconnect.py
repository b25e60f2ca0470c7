"""Work that stops when the client goes away: the upstream call is cancelled, not finished."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Receive

from flightdeck.core.errors import ClientGone

T = TypeVar("T")


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the ASGI ``receive`` channel reports ``http.disconnect``."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(request: Request, call: Awaitable[T]) -> T:
    """Await ``call``, cancelling it (and so the upstream request) if the client disconnects.

    Raises ``ClientGone`` when the client left first; the cancelled call sees ``CancelledError``
    and cleans up (refunds, records) on its way out.
    """
    me = asyncio.current_task()
    assert me is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await wait_for_disconnect(request.receive)
        gone = True
        me.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await call
    except asyncio.CancelledError:
        if gone:
            raise ClientGone("the client closed the connection") from None
        raise
    finally:
        watcher.cancel()
