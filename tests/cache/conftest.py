from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from flightdeck.cache import TextEncoder, sentence_encoder
from flightdeck.encoders.sentence import load_sentence_model
from tests.tenancy_support.services import redis_prefix  # noqa: F401


class FakeClock:
    """A clock the test moves by hand: TTLs without sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def minilm() -> Iterator[TextEncoder]:
    """The real all-MiniLM-L6-v2 encoder, loaded once for the session."""
    yield sentence_encoder(load_sentence_model())


def unit(*values: float, dims: int = 8) -> NDArray[np.float32]:
    vector = np.zeros(dims, np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)
