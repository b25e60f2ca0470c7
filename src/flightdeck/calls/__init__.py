"""Model calls as a shared service, below the planes.

The router (groups, retries, fallbacks, circuits), one accounting (admit, meter a stream,
settle, record) and the facade every plane calls models through: ``ModelCalls``.
"""

from flightdeck.calls.accounting import Accounting, Kind, StreamMeter, Ticket
from flightdeck.calls.context import (
    EXPERIMENT_HEADER,
    Attempt,
    CallContext,
    CallHook,
    ServedVariant,
)
from flightdeck.calls.facade import ModelCalls
from flightdeck.calls.router import OpenedStream, Routed, Router
from flightdeck.calls.streams import ModelStream

__all__ = [
    "EXPERIMENT_HEADER",
    "Accounting",
    "Attempt",
    "CallContext",
    "CallHook",
    "Kind",
    "ModelCalls",
    "ModelStream",
    "OpenedStream",
    "Routed",
    "Router",
    "ServedVariant",
    "StreamMeter",
    "Ticket",
]
