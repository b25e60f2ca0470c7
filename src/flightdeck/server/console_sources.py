"""What the console reads besides the ledger (a value passed from ``create_app`` to the admin
app, which cannot reach the outer app's state)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flightdeck.calls import Router
from flightdeck.core.console_settings import ConsoleSettings
from flightdeck.core.lru import LruCache


@dataclass
class ConsoleSources:
    """What the console reads besides the ledger: the router's circuits, the telemetry
    registry (``telemetry()`` returns ``app.state.telemetry`` or None) and its settings."""

    router: Router | None = None
    telemetry: Callable[[], Any] = field(default=lambda: None)
    settings: ConsoleSettings = field(default_factory=ConsoleSettings)
    # recent answers of /admin/console/*: (route, range, params, scope) -> (expiry, answer)
    results: LruCache[tuple[Any, ...], tuple[float, dict[str, Any]]] = field(
        default_factory=lambda: LruCache(256)
    )
