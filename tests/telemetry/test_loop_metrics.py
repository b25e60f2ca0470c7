"""The event-loop counters and histograms expose exactly what prometheus_client's own
``Counter``/``Histogram`` expose for the same observations (text format, byte for byte)."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from flightdeck.telemetry.loop_metrics import LoopCounter, LoopHistogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def test_the_exposition_equals_prometheus_clients_for_the_same_observations() -> None:
    disable_created_metrics()  # as Telemetry does: no *_created series (process-wide)
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    c1 = LoopCounter("requests", "Requests.", ["route", "status"], registry=ours)
    c2 = Counter("requests", "Requests.", ["route", "status"], registry=theirs)
    h1 = LoopHistogram("duration_seconds", "Duration.", ["route"], registry=ours, buckets=BUCKETS)
    h2 = Histogram("duration_seconds", "Duration.", ["route"], registry=theirs, buckets=BUCKETS)
    rng = random.Random(7)
    for _ in range(5000):
        route, status = rng.choice(["/a", "/b", "/c"]), rng.choice(["200", "404", "500"])
        amount = rng.choice([1, 1, 2, 0.5])
        c1.labels(route, status).inc(amount)
        c2.labels(route, status).inc(amount)
        # bounds themselves (le: they land in their own bucket), beyond the last bound, tiny ones
        value = rng.choice([*BUCKETS, 0.0, 1e-9, 11.0, 1e6, rng.random(), rng.random() * 20])
        h1.labels(route).observe(value)
        h2.labels(route).observe(value)
    assert generate_latest(ours) == generate_latest(theirs)


def test_histogram_buckets_get_inf_and_must_increase() -> None:
    h = LoopHistogram("x", "X.", buckets=(1.0, 2.0))
    assert h.bounds == (1.0, 2.0, math.inf)
    h.labels().observe(2.0)
    h.labels().observe(3.0)
    assert h.labels().counts == [0, 1, 1]
    with pytest.raises(ValueError, match="increase"):
        LoopHistogram("y", "Y.", buckets=(2.0, 1.0))


def test_wrong_label_counts_and_negative_increments_are_refused() -> None:
    c = LoopCounter("z", "Z.", ["a"])
    with pytest.raises(ValueError, match="takes labels"):
        c.labels("1", "2")
    with pytest.raises(ValueError, match="only go up"):
        c.labels("1").inc(-1)
