"""Providers: one module per wire format, found through a registry (entry points included)."""

from flightdeck.providers.base import ChatStream, Provider, UpstreamReply
from flightdeck.providers.registry import ProviderRegistry

__all__ = ["ChatStream", "Provider", "ProviderRegistry", "UpstreamReply"]
