"""An experiment's results: per-variant estimates, differences against the control with
fixed-horizon and always-valid intervals, CUPED when a pre-period covariate exists, and the
sample-ratio check.

Inputs are per-unit samples (:class:`UnitSamples`), one per variant and metric; the control is
the first variant unless named. Mean metrics take one value per unit; ratio metrics take a
numerator and a denominator per unit (:func:`flightdeck.experiments.stats.ratio_estimate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.experiments.errors import ExperimentError
from flightdeck.experiments.sequential import DEFAULT_TUNING, confidence_sequence
from flightdeck.experiments.srm import SampleRatio, sample_ratio_check
from flightdeck.experiments.stats import (
    Difference,
    Estimate,
    Interval,
    compare,
    cuped_adjust,
    cuped_theta,
    mean_estimate,
    ratio_estimate,
)

Array = NDArray[np.float64]


@dataclass(slots=True)
class UnitSamples:
    """One variant's units for one metric, aligned arrays of shape ``(units,)``: ``values``
    (the outcome, or a ratio's numerator), ``denominators`` (ratio metrics only),
    ``covariates`` (the same metric over each unit's pre-exposure window, for CUPED; for a
    ratio metric its numerator, with ``covariate_denominators``) and ``times`` (exposure time
    in seconds, for results over time)."""

    values: Array
    denominators: Array | None = None
    covariates: Array | None = None
    times: Array | None = None
    covariate_denominators: Array | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        for name in ("denominators", "covariates", "times", "covariate_denominators"):
            array = getattr(self, name)
            if array is not None:
                array = np.asarray(array, dtype=np.float64)
                if array.shape != self.values.shape:
                    raise ExperimentError(f"{name}: one per unit ({self.values.size} expected)")
                setattr(self, name, array)

    def until(self, cutoff: float) -> UnitSamples:
        """The units exposed at or before ``cutoff`` (requires ``times``)."""
        if self.times is None:
            raise ExperimentError("times: needed for results over time")
        keep = self.times <= cutoff
        return UnitSamples(
            self.values[keep],
            None if self.denominators is None else self.denominators[keep],
            None if self.covariates is None else self.covariates[keep],
            self.times[keep],
            None if self.covariate_denominators is None else self.covariate_denominators[keep],
        )


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment against the control: the fixed-horizon ``difference`` and the
    always-valid (sequential) intervals and p-value."""

    variant: str
    difference: Difference
    sequential_ci: Interval
    sequential_relative_ci: Interval
    sequential_p_value: float

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {
            "variant": self.variant,
            "absolute": d.absolute,
            "absolute_ci": list(d.absolute_ci),
            "relative": d.relative,
            "relative_ci": list(d.relative_ci),
            "p_value": d.p_value,
            "sequential_ci": list(self.sequential_ci),
            "sequential_relative_ci": list(self.sequential_relative_ci),
            "sequential_p_value": self.sequential_p_value,
        }


@dataclass(frozen=True, slots=True)
class MetricResult:
    """A metric's per-variant ``estimates`` and ``comparisons`` against ``control``;
    ``cuped`` says the estimates were adjusted by the pre-period covariate, and
    ``variance_reduction`` by how much: ``1 - sum(adjusted variances) / sum(unadjusted)`` over
    the variants (about ``rho^2``; None without CUPED)."""

    name: str
    ratio: bool
    cuped: bool
    control: str
    estimates: Mapping[str, Estimate]
    comparisons: Sequence[Comparison]
    variance_reduction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "ratio" if self.ratio else "mean",
            "cuped": self.cuped,
            "variance_reduction": self.variance_reduction,
            "control": self.control,
            "variants": [
                {
                    "variant": v,
                    "units": e.units,
                    "value": e.value,
                    "standard_error": e.standard_error,
                }
                for v, e in self.estimates.items()
            ],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


@dataclass(frozen=True, slots=True)
class ExperimentResults:
    """Units per variant, the sample-ratio check and every metric's result."""

    units: Mapping[str, int]
    sample_ratio: SampleRatio
    metrics: Sequence[MetricResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        srm = self.sample_ratio
        return {
            "units": dict(self.units),
            "sample_ratio": {
                "chi2": srm.chi2,
                "p_value": srm.p_value,
                "mismatch": srm.flagged,
                "expected": list(srm.expected),
            },
            "metrics": [m.to_dict() for m in self.metrics],
        }


def analyse_metric(
    name: str,
    samples: Mapping[str, UnitSamples],
    control: str | None = None,
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
    use_cuped: bool = True,
) -> MetricResult:
    """One metric across variants (``samples``: variant -> its units, control first unless
    named). CUPED applies when every variant has covariates (ratio metrics: and covariate
    denominators, with a non-zero mean) and ``use_cuped``. Raises :class:`ExperimentError`
    for a variant with < 2 units, an unknown control, or ratio samples without denominators
    in some variant."""
    if len(samples) < 2:
        raise ExperimentError(f"metric {name!r}: need samples of at least two variants")
    control = control if control is not None else next(iter(samples))
    if control not in samples:
        raise ExperimentError(f"metric {name!r}: control {control!r} has no samples")
    ratios = [s.denominators is not None for s in samples.values()]
    if any(ratios) and not all(ratios):
        raise ExperimentError(f"metric {name!r}: denominators are missing in some variant")
    ratio = all(ratios)
    cuped = use_cuped and all(_has_covariate(s, ratio) for s in samples.values())
    estimates = _estimates(name, samples, ratio=ratio, cuped=cuped)
    reduction = None
    if cuped:
        plain = _estimates(name, samples, ratio=ratio, cuped=False)
        before = sum(e.variance for e in plain.values())
        after = sum(e.variance for e in estimates.values())
        reduction = 1 - after / before if before > 0 else 0.0
    total_units = sum(e.units for e in estimates.values())
    comparisons = []
    for variant, estimate in estimates.items():
        if variant == control:
            continue
        diff = compare(estimates[control], estimate, alpha)
        seq, seq_rel, seq_p = confidence_sequence(diff, total_units, alpha, tuning)
        comparisons.append(Comparison(variant, diff, seq, seq_rel, seq_p))
    return MetricResult(name, ratio, cuped, control, estimates, comparisons, reduction)


def _has_covariate(s: UnitSamples, ratio: bool) -> bool:
    if s.covariates is None:
        return False
    if not ratio:
        return True
    return s.covariate_denominators is not None and float(s.covariate_denominators.mean()) > 0


def _estimates(
    name: str, samples: Mapping[str, UnitSamples], *, ratio: bool, cuped: bool
) -> dict[str, Estimate]:
    if ratio and cuped:
        return _ratio_cuped_estimates(name, samples)
    theta, x_mean = 0.0, 0.0
    if cuped:
        y_all = np.concatenate([s.values for s in samples.values()])
        x_all = np.concatenate([s.covariates for s in samples.values() if s.covariates is not None])
        theta, x_mean = cuped_theta(y_all, x_all), float(x_all.mean())
    estimates = {}
    for variant, s in samples.items():
        if s.values.size < 2:
            raise ExperimentError(f"metric {name!r}: variant {variant!r} has fewer than 2 units")
        if ratio:
            assert s.denominators is not None
            estimates[variant] = ratio_estimate(s.values, s.denominators)
        elif cuped:
            assert s.covariates is not None
            estimates[variant] = mean_estimate(cuped_adjust(s.values, s.covariates, theta, x_mean))
        else:
            estimates[variant] = mean_estimate(s.values)
    return estimates


def _ratio_cuped_estimates(name: str, samples: Mapping[str, UnitSamples]) -> dict[str, Estimate]:
    """CUPED for ratio metrics (Deng, Knoblich, Lu, KDD 2018, section 3.3): both ratios are
    linearised per unit by the delta method, ``a_i = (y_i - R_y n_i) / mean n`` and
    ``b_i = (x_i - R_x m_i) / mean m``; ``theta = sum(a b) / sum(b^2)`` pooled over variants;
    each variant's estimate is ``R_y - theta (R_x - pooled R_x)`` with variance
    ``Var(a - theta b) / units``."""
    parts = {}
    for variant, s in samples.items():
        if s.values.size < 2:
            raise ExperimentError(f"metric {name!r}: variant {variant!r} has fewer than 2 units")
        assert s.denominators is not None and s.covariates is not None
        assert s.covariate_denominators is not None
        n_mean, m_mean = float(s.denominators.mean()), float(s.covariate_denominators.mean())
        if n_mean == 0:
            raise ExperimentError(f"metric {name!r}: variant {variant!r} has no denominators")
        r_y = float(s.values.mean()) / n_mean
        r_x = float(s.covariates.mean()) / m_mean
        a = (s.values - r_y * s.denominators) / n_mean
        b = (s.covariates - r_x * s.covariate_denominators) / m_mean
        parts[variant] = (r_y, r_x, a, b)
    x_sum = sum(float(s.covariates.sum()) for s in samples.values() if s.covariates is not None)
    m_sum = sum(
        float(s.covariate_denominators.sum())
        for s in samples.values()
        if s.covariate_denominators is not None
    )
    pooled_x = x_sum / m_sum
    bb = sum(float((b * b).sum()) for _, _, _, b in parts.values())
    theta = sum(float((a * b).sum()) for _, _, a, b in parts.values()) / bb if bb > 0 else 0.0
    estimates = {}
    for variant, (r_y, r_x, a, b) in parts.items():
        adjusted = a - theta * b
        units = adjusted.size
        value = r_y - theta * (r_x - pooled_x)
        estimates[variant] = Estimate(value, float(adjusted.var(ddof=1)) / units, units, units - 1)
    return estimates


def analyse(
    units: Mapping[str, int],
    weights: Mapping[str, float],
    metrics: Mapping[str, Mapping[str, UnitSamples]],
    control: str | None = None,
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> ExperimentResults:
    """The whole experiment: ``units`` exposed per variant, configured ``weights`` per variant
    (same keys), ``metrics``: name -> variant -> samples. A metric with too few units in some
    variant is left out (it appears once it has data)."""
    if set(units) != set(weights):
        raise ExperimentError("units and weights: the same variants in both")
    srm = sample_ratio_check([units[v] for v in weights], [weights[v] for v in weights])
    results = []
    for name, samples in metrics.items():
        if all(s.values.size >= 2 for s in samples.values()) and len(samples) >= 2:
            results.append(analyse_metric(name, samples, control, alpha=alpha, tuning=tuning))
    return ExperimentResults(dict(units), srm, results)


def metric_over_time(
    name: str,
    samples: Mapping[str, UnitSamples],
    cutoffs: Sequence[float],
    control: str | None = None,
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> list[tuple[float, MetricResult]]:
    """The metric's result at each cutoff (units exposed up to it); cutoffs where some variant
    has fewer than 2 units are skipped. Samples need ``times``."""
    looks = []
    for cutoff in cutoffs:
        subset = {v: s.until(cutoff) for v, s in samples.items()}
        if all(s.values.size >= 2 for s in subset.values()):
            looks.append(
                (cutoff, analyse_metric(name, subset, control, alpha=alpha, tuning=tuning))
            )
    return looks
