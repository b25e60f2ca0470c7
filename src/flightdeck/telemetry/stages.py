"""The stage hook planes take: ``with stage("assistant.rank"): ...`` records a span and a
duration (``Telemetry.stage``); ``no_stage`` records nothing (tests, embedders)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Stage = Callable[[str], AbstractContextManager[None]]


def no_stage(name: str) -> AbstractContextManager[None]:
    """A stage that records nothing."""
    return nullcontext()
