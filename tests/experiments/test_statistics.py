"""The analysis keeps its promises on simulated experiments (seeded, vectorised NumPy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from flightdeck.experiments import ExperimentError
from flightdeck.experiments.analysis import UnitSamples, analyse, analyse_metric
from flightdeck.experiments.sequential import always_valid_p, confidence_sequence, halfwidths
from flightdeck.experiments.stats import compare, mean_estimate, ratio_estimate

RUNS = 1000
ALPHA = 0.05


def test_welch_interval_equals_scipy() -> None:
    rng = np.random.default_rng(1)
    control, treatment = rng.normal(10, 2, 300), rng.normal(10.4, 5, 500)
    diff = compare(mean_estimate(control), mean_estimate(treatment))
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    low, high = reference.confidence_interval(0.95)
    assert diff.absolute_ci == pytest.approx((low, high), rel=1e-9)
    assert diff.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_fixed_horizon_false_positives_lie_in_the_binomial_99_percent_interval() -> None:
    rng = np.random.default_rng(2024)
    data = rng.lognormal(0, 1, size=(RUNS, 2, 400))  # skewed, like latency or cost
    rejected = sum(
        compare(mean_estimate(run[0]), mean_estimate(run[1]), ALPHA).p_value < ALPHA for run in data
    )
    low, high = sps.binom.interval(0.99, RUNS, ALPHA)
    print(f"fixed-horizon A/A false positives: {rejected}/{RUNS} (99% interval {low}-{high})")
    assert low <= rejected <= high


def _cumulative_looks(data: np.ndarray, looks: int) -> tuple[np.ndarray, ...]:
    """Per run and look: the difference of means, its standard error and the units so far."""
    n = data.shape[2]
    ends = np.linspace(n / looks, n, looks).astype(int)
    sums, squares = np.cumsum(data, axis=2), np.cumsum(data**2, axis=2)
    s, q = sums[:, :, ends - 1], squares[:, :, ends - 1]
    means = s / ends
    variances = (q - ends * means**2) / (ends - 1)
    diff = means[:, 1] - means[:, 0]
    se = np.sqrt((variances[:, 0] + variances[:, 1]) / ends)
    return diff, se, np.broadcast_to(2 * ends, diff.shape)


def test_sequential_intervals_keep_false_positives_at_five_percent_under_daily_looks() -> None:
    rng = np.random.default_rng(30)
    data = rng.normal(0, 1, size=(RUNS, 2, 3000))
    diff, se, units = _cumulative_looks(data, looks=30)
    naive = (np.abs(diff / se) > sps.norm.ppf(1 - ALPHA / 2)).any(axis=1).mean()
    sequential = (np.abs(diff) > halfwidths(se, units, ALPHA)).any(axis=1).mean()
    print(
        f"A/A, a look after every 1/30 of the data: naive t-test {naive:.1%}, "
        f"confidence sequence {sequential:.1%}"
    )
    assert sequential <= ALPHA
    assert naive > ALPHA


def test_always_valid_p_value_agrees_with_the_confidence_sequence() -> None:
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.05, 0.1, 0.3):
        control, treatment = rng.normal(0, 1, 2000), rng.normal(shift, 1, 2000)
        diff = compare(mean_estimate(control), mean_estimate(treatment))
        (low, high), _, p = confidence_sequence(diff, 4000)
        assert (p < ALPHA) == (low > 0 or high < 0)
        assert p == always_valid_p(diff, 4000)
        assert high - low > diff.absolute_ci[1] - diff.absolute_ci[0]  # the price of peeking


def test_cuped_narrows_the_interval_by_one_minus_rho_squared() -> None:
    rng = np.random.default_rng(42)
    rho, n = 0.7, 20_000
    samples = {}
    for variant in ("control", "treatment"):
        pre = rng.normal(5, 2, n)
        noise = rng.normal(0, 2, n)
        outcome = 5 + rho * (pre - 5) + np.sqrt(1 - rho**2) * noise
        samples[variant] = UnitSamples(outcome, covariates=pre)
    adjusted = analyse_metric("m", samples)
    plain = analyse_metric("m", samples, use_cuped=False)
    width = lambda result: np.diff(result.comparisons[0].difference.absolute_ci)[0]  # noqa: E731
    ratio = (width(adjusted) / width(plain)) ** 2
    print(f"CUPED variance ratio {ratio:.3f}, expected 1 - rho^2 = {1 - rho**2:.3f}")
    assert adjusted.cuped and not plain.cuped
    assert ratio == pytest.approx(1 - rho**2, abs=0.02)


def test_ratio_metric_interval_covers_the_true_ratio_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(RUNS):
        requests = rng.poisson(5, 400) + 1
        cost = requests * rng.gamma(2.0, 0.5, 400)  # true cost per request: 1.0
        estimate = ratio_estimate(cost, requests)
        half = 1.96 * estimate.standard_error
        covered += estimate.value - half <= 1.0 <= estimate.value + half
    low, high = sps.binom.interval(0.99, RUNS, 0.95)
    assert low <= covered <= high


def test_relative_difference_is_reported_with_its_interval() -> None:
    rng = np.random.default_rng(9)
    result = analyse_metric(
        "latency_ms",
        {"a": UnitSamples(rng.normal(100, 10, 5000)), "b": UnitSamples(rng.normal(90, 10, 5000))},
    )
    comparison = result.comparisons[0]
    low, high = comparison.difference.relative_ci
    assert low < -0.1 < high and comparison.difference.relative == pytest.approx(-0.1, abs=0.01)
    assert comparison.sequential_relative_ci[0] < low and comparison.sequential_p_value < ALPHA


def test_analyse_reports_units_sample_ratio_and_each_metric() -> None:
    rng = np.random.default_rng(10)
    samples = {v: UnitSamples(rng.normal(1, 1, 100)) for v in ("a", "b")}
    results = analyse({"a": 100, "b": 100}, {"a": 0.5, "b": 0.5}, {"m": samples}).to_dict()
    assert results["units"] == {"a": 100, "b": 100}
    assert results["sample_ratio"]["mismatch"] is False
    assert [m["name"] for m in results["metrics"]] == ["m"]
    assert results["metrics"][0]["comparisons"][0]["variant"] == "b"


def test_bad_inputs_raise_errors_that_name_the_problem() -> None:
    with pytest.raises(ExperimentError, match="at least 2 units"):
        mean_estimate([1.0])
    with pytest.raises(ExperimentError, match="finite"):
        mean_estimate([1.0, float("nan")])
    with pytest.raises(ExperimentError, match="mean is 0"):
        ratio_estimate([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ExperimentError, match="denominators are missing"):
        analyse_metric("m", {"a": UnitSamples([1, 2], [1, 1]), "b": UnitSamples([1, 2])})
