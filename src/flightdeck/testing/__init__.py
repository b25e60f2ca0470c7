"""Test doubles shipped with Flightdeck: a fake OpenAI-compatible upstream for tests and benches."""

from flightdeck.testing.fake_upstream import Behaviour, FakeUpstream

__all__ = ["Behaviour", "FakeUpstream"]
