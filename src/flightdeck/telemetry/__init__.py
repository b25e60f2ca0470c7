"""Telemetry: OpenTelemetry traces on the GenAI conventions, Prometheus metrics, JSON request
logs. ``Telemetry`` (``flightdeck.telemetry.service``) is the one object the app holds;
``semconv`` names everything emitted. Names are imported lazily, so a light submodule
(``media_metrics``, ``stages``) does not load the OpenTelemetry SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flightdeck.telemetry.requests import RequestInfo, current_request
    from flightdeck.telemetry.service import Telemetry

__all__ = ["RequestInfo", "Telemetry", "current_request"]


def __getattr__(name: str) -> Any:
    if name == "Telemetry":
        from flightdeck.telemetry.service import Telemetry

        return Telemetry
    if name in ("RequestInfo", "current_request"):
        from flightdeck.telemetry import requests

        return getattr(requests, name)
    raise AttributeError(name)
