"""Providers: one module per wire format, found through a registry (entry points included).

This package's exports are the plugin surface a third-party provider builds on
(docs/providers.md): the base classes, the HTTP upstream and its event streams, the errors a
provider raises, the deployment it is configured with, and the SSE helpers. The fake upstreams
to test one against are in :mod:`flightdeck.testing`.
"""

from flightdeck.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers import replies
from flightdeck.providers.base import SSE_DONE, ChatStream, Provider, UpstreamReply, sse_event
from flightdeck.providers.registry import ENTRY_POINT_GROUP, ProviderRegistry
from flightdeck.providers.upstream import (
    HTTPEventStream,
    HTTPProvider,
    TranslatedEventStream,
    upstream_error,
)
from flightdeck.wire.sse import Event, SSEDecoder

__all__ = [
    "ENTRY_POINT_GROUP",
    "SSE_DONE",
    "ChatStream",
    "Event",
    "HTTPEventStream",
    "HTTPProvider",
    "ModelDeployment",
    "Provider",
    "ProviderRegistry",
    "SSEDecoder",
    "TranslatedEventStream",
    "UpstreamError",
    "UpstreamReply",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "replies",
    "sse_event",
    "upstream_error",
]
