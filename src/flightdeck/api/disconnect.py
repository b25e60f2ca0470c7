"""Work that stops when the HTTP client goes away: the upstream call is cancelled, not finished."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Receive

from flightdeck.core.cancel import GoneWaiter, until_gone

T = TypeVar("T")


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the ASGI ``receive`` channel reports ``http.disconnect``."""
    while (await receive())["type"] != "http.disconnect":
        pass


def client_gone(request: Request) -> GoneWaiter:
    """A waiter that resolves when the client of ``request`` disconnects (for ``CallContext``).

    Only one waiter may read ``request.receive`` at a time: use it while no response streams.
    """
    return functools.partial(wait_for_disconnect, request.receive)


async def until_disconnect(request: Request, call: Awaitable[T]) -> T:
    """Await ``call``, cancelling it (and so the upstream request) if the client disconnects.

    Raises ``ClientGone`` (499) when the client left first.
    """
    return await until_gone(client_gone(request), call)
