"""The request toolkit every plane's routes use, below the planes.

Authenticate a request, read a bounded JSON object body, cancel work when the client goes away,
and answer with server-sent events. Gateway, assistant, search and admin routes import these;
no plane imports another plane's HTTP module for them.
"""

from flightdeck.api.disconnect import client_gone, until_disconnect, wait_for_disconnect
from flightdeck.api.requests import authenticate_request, read_json_object

__all__ = [
    "authenticate_request",
    "client_gone",
    "read_json_object",
    "until_disconnect",
    "wait_for_disconnect",
]
