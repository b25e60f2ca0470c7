"""The golden table: usage blocks as each vendor reports them, and their exact costs.

Prices are per million tokens; costs are in micro-units of the currency (exact integers). The
usage blocks are the shapes each API documents (OpenAI chat completions and Responses,
Anthropic Messages, Gemini ``usageMetadata``); each is read by ``flightdeck.wire`` into the
internal usage model, then priced.
"""

from __future__ import annotations

from typing import Any

import pytest

from flightdeck.core.tenancy_settings import ModelPrice
from flightdeck.limits.prices import PriceTable
from flightdeck.wire.anthropic import usage_from_anthropic
from flightdeck.wire.chat import Usage
from flightdeck.wire.gemini import usage_from_gemini
from flightdeck.wire.responses import usage_from_responses

PRICES = PriceTable(
    {
        # Anthropic-like: cache reads 0.1x, cache writes 1.25x the input price
        "claude": ModelPrice(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75),
        # OpenAI-like: cached input half price; reasoning billed as output
        "gpt": ModelPrice(input=1.25, output=10.0, cached_input=0.125),
        # Gemini-like: thinking tokens priced apart from other output
        "gemini": ModelPrice(input=0.3, output=2.5, cached_input=0.075, reasoning=3.5),
        "free": ModelPrice(),
    }
)

READ = {
    "chat": Usage.from_chat,
    "anthropic": usage_from_anthropic,
    "gemini": usage_from_gemini,
    "responses": usage_from_responses,
}

GOLDEN: list[tuple[str, str, dict[str, Any], int]] = [
    # plain chat usage: 1000 in x 1.25 + 200 out x 10 = 1250 + 2000
    ("gpt", "chat", {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}, 3250),
    # chat with cached tokens: 800 x 1.25 + 200 x 0.125 + 100 x 10 = 1000 + 25 + 1000
    (
        "gpt",
        "chat",
        {
            "prompt_tokens": 1000,
            "completion_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 200},
            "completion_tokens_details": {"reasoning_tokens": 60},
        },
        2025,
    ),
    # Responses API, 5000 in (4864 cached), 3 out: 136 x 1.25 + 4864 x 0.125 + 3 x 10
    (
        "gpt",
        "responses",
        {
            "input_tokens": 5000,
            "input_tokens_details": {"cached_tokens": 4864},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5003,
        },
        808,
    ),
    # Anthropic: input_tokens exclude the cache: 20 x 3 + 3000 x 0.3 + 1200 x 3.75 + 9 x 15
    (
        "claude",
        "anthropic",
        {
            "input_tokens": 20,
            "cache_read_input_tokens": 3000,
            "cache_creation_input_tokens": 1200,
            "output_tokens": 9,
        },
        5595,
    ),
    # Anthropic thinking is billed as output: 60 x 3 + 180 x 15
    (
        "claude",
        "anthropic",
        {
            "input_tokens": 60,
            "output_tokens": 180,
            "output_tokens_details": {"thinking_tokens": 120},
        },
        2880,
    ),
    # Gemini: promptTokenCount includes the cache; thoughts are apart from candidates:
    # (5000 - 4096) x 0.3 + 4096 x 0.075 + 4 x 2.5 = 271.2 + 307.2 + 10 = 588.4 -> 588
    (
        "gemini",
        "gemini",
        {"promptTokenCount": 5000, "cachedContentTokenCount": 4096, "candidatesTokenCount": 4},
        588,
    ),
    # Gemini thinking: 15 x 0.3 + 5 x 2.5 + 60 x 3.5 = 4.5 + 12.5 + 210 = 227
    (
        "gemini",
        "gemini",
        {"promptTokenCount": 15, "candidatesTokenCount": 5, "thoughtsTokenCount": 60},
        227,
    ),
    # Gemini tool-use prompt tokens are input: (100 + 40) x 0.3 + 10 x 2.5 = 42 + 25
    (
        "gemini",
        "gemini",
        {"promptTokenCount": 100, "toolUsePromptTokenCount": 40, "candidatesTokenCount": 10},
        67,
    ),
    # a model without prices costs nothing; a group without a price entry too
    ("free", "chat", {"prompt_tokens": 10**6, "completion_tokens": 10**6}, 0),
    ("unknown", "chat", {"prompt_tokens": 10**6, "completion_tokens": 10**6}, 0),
    # a million input tokens at 3.0 per million is exactly 3 currency units
    ("claude", "anthropic", {"input_tokens": 1_000_000, "output_tokens": 0}, 3_000_000),
]


@pytest.mark.parametrize(("group", "fmt", "usage", "micros"), GOLDEN)
def test_golden_costs(group: str, fmt: str, usage: dict[str, Any], micros: int) -> None:
    u = READ[fmt](usage)
    got = PRICES.cost_micros(
        group, u.prompt, u.completion, u.cached, cache_write=u.cache_write, reasoning=u.reasoning
    )
    assert got == micros


def test_unset_prices_fall_back_to_input_and_output() -> None:
    table = PriceTable({"m": ModelPrice(input=2.0, output=8.0)})
    assert table.cost_micros("m", 100, 10, 40, cache_write=30, reasoning=5) == 100 * 2 + 10 * 8


def test_counts_that_do_not_add_up_are_clamped() -> None:
    table = PriceTable({"m": ModelPrice(input=1.0, output=1.0, cached_input=0.0, reasoning=0.0)})
    assert table.cost_micros("m", 10, 5, cached=50, reasoning=99) == 0


def test_estimate_is_the_worst_case() -> None:
    assert PRICES.estimate_micros("claude", 1000, 100) == 1000 * 3.75 + 100 * 15
    assert PRICES.estimate_micros("gemini", 1000, 100) == 1000 * 0.3 + 100 * 3.5
