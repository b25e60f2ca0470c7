"""Errors of the local encoders.

FlightdeckError
+-- ModelLoadError     a local model cannot be loaded (missing weights, no package, no device)
"""

from __future__ import annotations

from flightdeck.core.errors import FlightdeckError


class ModelLoadError(FlightdeckError):
    """A local model cannot be loaded."""
