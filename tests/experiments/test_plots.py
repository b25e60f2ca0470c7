"""Results over time and their PNG plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flightdeck.experiments.analysis import UnitSamples, metric_over_time
from flightdeck.experiments.plots import plot_over_time

DAY = 86_400.0


def test_intervals_narrow_day_by_day_and_plot_as_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    samples = {
        v: UnitSamples(rng.normal(mu, 1, 3000), times=rng.uniform(0, 7 * DAY, 3000))
        for v, mu in (("control", 1.0), ("treatment", 1.1))
    }
    looks = metric_over_time("latency_ms", samples, [d * DAY for d in range(1, 8)])
    widths = [np.diff(r.comparisons[0].sequential_ci)[0] for _, r in looks]
    assert len(looks) == 7 and widths == sorted(widths, reverse=True)
    units = [sum(e.units for e in r.estimates.values()) for _, r in looks]
    assert units[-1] == 6000
    path = plot_over_time([("latency_ms", looks)], tmp_path / "over-time.png", "exp")
    assert path.read_bytes()[:4] == b"\x89PNG"
