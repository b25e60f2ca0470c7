"""What a call costs: a per-model-group price table from config (per million tokens)."""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.core.tenancy_settings import ModelPrice
from flightdeck.limits.scopes import MICROS


class PriceTable:
    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = dict(prices)

    def cost(
        self, model_group: str, input_tokens: int, output_tokens: int, cached: int = 0
    ) -> float:
        """Cost in currency units; cached input tokens are part of ``input_tokens``."""
        price = self.prices.get(model_group)
        if price is None:
            return 0.0
        cached = min(cached, input_tokens)
        cached_price = price.input if price.cached_input is None else price.cached_input
        total = (
            (input_tokens - cached) * price.input
            + cached * cached_price
            + output_tokens * price.output
        )
        return total / 1_000_000

    def cost_micros(
        self, model_group: str, input_tokens: int, output_tokens: int, cached: int = 0
    ) -> int:
        return round(self.cost(model_group, input_tokens, output_tokens, cached) * MICROS)

    def estimate_micros(self, model_group: str, prompt_tokens: int, max_output_tokens: int) -> int:
        """The most a call can cost: every prompt token uncached, every output token used."""
        return self.cost_micros(model_group, prompt_tokens, max_output_tokens)
