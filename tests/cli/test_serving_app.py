"""``flightdeck serve``'s app freezes what start-up made (``gc.freeze``) and raises the young
generation's collection threshold once start-up is done, and only then; ``create_app`` alone
never does."""

from __future__ import annotations

import asyncio
import gc

from flightdeck.cli.serving import GC_YOUNG_THRESHOLD, serving_app
from flightdeck.server.app import create_app
from tests.conftest import MakeSettings


def test_start_up_objects_are_frozen_once_the_app_has_started(make_settings: MakeSettings) -> None:
    settings = make_settings([])
    gc.unfreeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])
    try:
        plain = create_app(settings)
        app = serving_app(settings)
        assert gc.get_freeze_count() == 0  # building the app freezes nothing

        async def start_and_stop() -> tuple[int, int, int]:
            async with plain.router.lifespan_context(plain):
                after_plain = gc.get_freeze_count()
                assert gc.get_threshold()[0] == 700
            async with app.router.lifespan_context(app):
                return after_plain, gc.get_freeze_count(), gc.get_threshold()[0]

        after_plain, after_serving, young = asyncio.run(start_and_stop())
        assert after_plain == 0
        assert after_serving > 10_000  # the modules, the tables and the tokenizer's objects
        assert young == GC_YOUNG_THRESHOLD > 700
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
