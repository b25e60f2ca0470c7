"""Errors of the response cache (a branch of ``flightdeck.core.errors.FlightdeckError``).

    FlightdeckError
    +-- CacheUnavailable      the shared cache store cannot be reached for an operation that
                              must not silently do nothing (a purge): 503

Lookups and writes never raise for an outage; they miss.
"""

from __future__ import annotations

from flightdeck.core.errors import FlightdeckError


class CacheUnavailable(FlightdeckError):
    """The response cache's backend cannot be reached (503)."""

    status = 503
    type = "server_error"
    code = "cache_unavailable"
