"""What a call costs: a per-model-group price table from config, in prices per million tokens.

A call's cost is what the upstream reported, priced by kind of token:

    (input - cached - cache_write) * input_price + cached * cached_input_price
      + cache_write * cache_write_price
      + (output - reasoning) * output_price + reasoning * reasoning_price

divided by one million. ``input`` counts every input token (cache reads and writes included)
and ``output`` every output token (reasoning included), as the internal usage model does
(``flightdeck.wire.chat``). Costs in micro-units of the currency are exact integers
(``round(sum of tokens x price)``), so limits and the ledger add them up without drift.
"""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.core.tenancy_settings import ModelPrice
from flightdeck.limits.scopes import MICROS


class PriceTable:
    """Prices per model group, for cost estimates and budgets."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = dict(prices)

    def cost_micros(
        self,
        model_group: str,
        input_tokens: int,
        output_tokens: int,
        cached: int = 0,
        *,
        cache_write: int = 0,
        reasoning: int = 0,
    ) -> int:
        """The cost in millionths of the currency (token counts clamped to add up)."""
        price = self.prices.get(model_group)
        if price is None:
            return 0
        cached = max(0, min(cached, input_tokens))
        cache_write = max(0, min(cache_write, input_tokens - cached))
        reasoning = max(0, min(reasoning, output_tokens))
        total = (
            (input_tokens - cached - cache_write) * price.input
            + cached * _or(price.cached_input, price.input)
            + cache_write * _or(price.cache_write, price.input)
            + (output_tokens - reasoning) * price.output
            + reasoning * _or(price.reasoning, price.output)
        )
        # prices are per 1e6 tokens and a currency unit is 1e6 micros: the factors cancel
        return round(total * MICROS / 1_000_000)

    def cost(
        self,
        model_group: str,
        input_tokens: int,
        output_tokens: int,
        cached: int = 0,
        *,
        cache_write: int = 0,
        reasoning: int = 0,
    ) -> float:
        """Cost in currency units."""
        micros = self.cost_micros(
            model_group,
            input_tokens,
            output_tokens,
            cached,
            cache_write=cache_write,
            reasoning=reasoning,
        )
        return micros / MICROS

    def estimate_micros(self, model_group: str, prompt_tokens: int, max_output_tokens: int) -> int:
        """The most a call can cost: every prompt token uncached, every output token used
        (at the dearer of the output and reasoning prices)."""
        price = self.prices.get(model_group)
        if price is None:
            return 0
        dearest = max(price.output, _or(price.reasoning, price.output))
        dearest_in = max(price.input, _or(price.cache_write, price.input))
        return round(
            (prompt_tokens * dearest_in + max_output_tokens * dearest) * MICROS / 1_000_000
        )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
