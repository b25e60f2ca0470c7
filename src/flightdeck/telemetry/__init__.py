"""Telemetry: OpenTelemetry traces on the GenAI conventions, Prometheus metrics, JSON request
logs. ``Telemetry`` is the one object the app holds; ``semconv`` names everything emitted."""

from flightdeck.telemetry.requests import RequestInfo, current_request
from flightdeck.telemetry.service import Telemetry

__all__ = ["RequestInfo", "Telemetry", "current_request"]
