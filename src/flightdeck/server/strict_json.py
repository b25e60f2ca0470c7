"""Numbers in admin request bodies: finite, and within 64-bit integers, or a 400.

Python's ``json`` (which FastAPI parses bodies with) accepts ``NaN``, ``Infinity`` and
``1e400`` (infinite), and integers of any size; such values then passed validation
(``ge=0`` holds for infinity) and failed in the database with a 500. ``StrictJSON`` checks a JSON
body once before the admin app parses it (bodies are already bounded by ``server/edge.py``) and
answers 400 in the API's error shape, naming the problem.
"""

from __future__ import annotations

import json
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flightdeck.server.errors import error_body

INT64 = 2**63


class OutOfRange(ValueError):
    """A number JSON can write but the API cannot store."""


def _constant(name: str) -> float:
    raise OutOfRange(f"{name} is not a number the API accepts")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise OutOfRange(f"{text} is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > 20 or not -INT64 <= int(text) < INT64:
        raise OutOfRange(f"{text[:24]}{'...' if len(text) > 24 else ''} is out of range")
    return int(text)


def check_numbers(body: bytes) -> str | None:
    """Why the numbers of JSON ``body`` are refused, or None (also for bodies that are not
    JSON: the app's own parser reports those)."""
    try:
        json.loads(body, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except OutOfRange as exc:
        return str(exc)
    except ValueError:
        return None
    return None


class StrictJSON:
    """ASGI middleware refusing JSON bodies with non-finite or out-of-range numbers (400)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client left; the app sees it too
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = check_numbers(body) if body else None
        if problem is not None:
            content = error_body(problem, "invalid_request_error", "number_out_of_range")
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": content})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
