"""Test doubles shipped with Flightdeck: fake upstreams (OpenAI-compatible, Anthropic, Gemini)
that speak each vendor's real wire format, for tests and benches."""

from flightdeck.testing.fake_anthropic import FakeAnthropic
from flightdeck.testing.fake_gemini import FakeGemini
from flightdeck.testing.fake_upstream import Behaviour, FakeUpstream

__all__ = ["Behaviour", "FakeAnthropic", "FakeGemini", "FakeUpstream"]
