"""``POST /v1/feedback``: explicit feedback on a response, for experiments' outcomes.

    {"response_id": "chatcmpl-...", "thumbs": "up"}          -> thumbs = 1 (down: 0)
    {"response_id": "...", "rating": 4}                       -> rating = 4
    {"response_id": "...", "name": "resolved", "value": 1}    -> any named numeric metric

Values are finite numbers within +-1e9 (so sums of squares over many units stay finite);
``thumbs`` and ``rating`` are only accepted as their own fields.

The response id is the ``id`` of the reply the client got (a chat completion's ``chatcmpl-...``,
the assistant's ``response_id``, a search's ``search-...``); results join it to the request's
experiment, variant and unit. Feedback is the caller's tenant's; it may arrive before the
request's usage reaches the database (the ledger writes off the request path), so an unknown
id is accepted, not refused.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.api import authenticate_request, read_json_object
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.core.errors import InvalidRequest
from flightdeck.store.database import Store
from flightdeck.store.models_experiments import FeedbackRow

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
THUMBS = {"up": 1.0, "down": 0.0}
RESERVED = ("thumbs", "rating")  # their own fields, with their own checks
MAX_VALUE = 1e9
MAX_BODY = 16_384


def feedback_values(body: dict[str, Any]) -> tuple[str, list[tuple[str, float]]]:
    """The response id and the (name, value) pairs of a feedback body; raises InvalidRequest
    naming the field that is missing or wrong."""
    response_id = body.get("response_id")
    if not isinstance(response_id, str) or not 0 < len(response_id) <= 200:
        raise InvalidRequest(
            "'response_id' must be a string of 1-200 characters", param="response_id"
        )
    values: list[tuple[str, float]] = []
    thumbs = body.get("thumbs")
    if thumbs is not None:
        if thumbs not in THUMBS:
            raise InvalidRequest("'thumbs' must be 'up' or 'down'", param="thumbs")
        values.append(("thumbs", THUMBS[thumbs]))
    if body.get("rating") is not None:
        values.append(("rating", _number(body["rating"], "rating")))
    if body.get("name") is not None or body.get("value") is not None:
        name = body.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidRequest(
                "'name' must be a metric name (letters, digits, _.-)", param="name"
            )
        if name in RESERVED:
            raise InvalidRequest(
                f"'{name}' is reserved: send it as the '{name}' field", param="name"
            )
        values.append((name, _number(body.get("value"), "value")))
    if not values:
        raise InvalidRequest("give 'thumbs', 'rating', or 'name' and 'value'")
    return response_id, values


def _number(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"'{param}' must be a finite number", param=param)
    if abs(value) > MAX_VALUE:  # sums and squares over many units must stay finite
        raise InvalidRequest(
            f"'{param}' must be between -{MAX_VALUE:.0e} and {MAX_VALUE:.0e}", param=param
        )
    return float(value)


class FeedbackRoutes:
    """The feedback route (any authenticated caller; stored in the caller's tenant)."""

    def __init__(self, store: Store, auth: CallerAuthenticator) -> None:
        self.store = store
        self.auth = auth

    def routes(self) -> list[Route]:
        return [Route("/v1/feedback", self.feedback, methods=["POST"])]

    async def feedback(self, request: Request) -> Response:
        principal = await authenticate_request(self.auth, request)
        body = await read_json_object(request, MAX_BODY)
        response_id, values = feedback_values(body)
        async with self.store.session() as session, session.begin():
            session.add_all(
                FeedbackRow(tenant=principal.tenant, response_id=response_id, name=n, value=v)
                for n, v in values
            )
        data = {
            "response_id": response_id,
            "recorded": [{"name": n, "value": v} for n, v in values],
        }
        return Response(orjson.dumps(data), status_code=201, media_type="application/json")
