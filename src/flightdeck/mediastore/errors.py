"""Errors of the media store.

FlightdeckError
+-- StoreError      the STORE is unusable (corrupt manifest, checksum mismatch)
"""

from __future__ import annotations

from flightdeck.core.errors import FlightdeckError


class StoreError(FlightdeckError):
    """The STORE is unusable: unreadable manifest, checksum mismatch, incompatible options."""
