"""Estimates and differences: Welch intervals, ratio metrics by the delta method, CUPED.

Everything reduces to an :class:`Estimate` (a point value, the variance of that value, units,
degrees of freedom), so mean metrics, ratio metrics and CUPED-adjusted metrics share one
comparison, :func:`compare`.

Sources: Welch (1947) and the Welch-Satterthwaite degrees of freedom; the delta method for
ratio metrics as in Deng, Knoblich and Lu, "Applying the Delta Method in Metric Analytics"
(KDD 2018); CUPED from Deng, Xu, Kohavi and Walker, "Improving the Sensitivity of Online
Controlled Experiments by Utilizing Pre-Experiment Data" (WSDM 2013), with one theta pooled
over all variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from flightdeck.experiments.errors import ExperimentError

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A variant's value of a metric: ``value`` (a mean or a ratio of means), ``variance`` of
    that value (squared standard error), ``units`` behind it and the ``dof`` of its variance."""

    value: float
    variance: float
    units: int
    dof: float

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance)


@dataclass(frozen=True, slots=True)
class Difference:
    """Treatment minus control: ``absolute`` (metric units) and ``relative`` (a fraction:
    0.05 = +5%), each with its fixed-horizon ``1 - alpha`` interval; ``p_value`` two-sided;
    ``standard_error`` of the absolute difference; ``dof`` (Welch-Satterthwaite)."""

    absolute: float
    absolute_ci: Interval
    relative: float
    relative_ci: Interval
    p_value: float
    standard_error: float
    relative_standard_error: float
    dof: float

    def significant(self) -> bool:
        """Whether the absolute interval excludes 0."""
        return self.absolute_ci[0] > 0 or self.absolute_ci[1] < 0


def _values(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ExperimentError(f"{name}: expected one value per unit (a 1-D array)")
    if not np.isfinite(array).all():
        raise ExperimentError(f"{name}: values must be finite numbers")
    return array


def mean_estimate(values: ArrayLike) -> Estimate:
    """The mean of per-unit ``values`` (shape ``(units,)``) and its squared standard error.

    Raises :class:`ExperimentError` for fewer than 2 units or non-finite values."""
    array = _values(values, "values")
    if array.size < 2:
        raise ExperimentError("values: need at least 2 units")
    variance = float(array.var(ddof=1))
    return Estimate(float(array.mean()), variance / array.size, int(array.size), array.size - 1)


def ratio_estimate(numerators: ArrayLike, denominators: ArrayLike) -> Estimate:
    """A ratio metric ``sum(numerators) / sum(denominators)`` over units (e.g. cost per
    request, with the user as the unit), its variance by the delta method:
    ``Var(R) ~ (s_n^2 - 2 R s_nd + R^2 s_d^2) / (units * mean_d^2)``.

    Raises :class:`ExperimentError` on shape mismatch or a zero mean denominator."""
    num = _values(numerators, "numerators")
    den = _values(denominators, "denominators")
    if num.shape != den.shape:
        raise ExperimentError("numerators and denominators: one of each per unit")
    if num.size < 2:
        raise ExperimentError("values: need at least 2 units")
    mean_den = float(den.mean())
    if mean_den == 0:
        raise ExperimentError("denominators: their mean is 0, the ratio is undefined")
    ratio = float(num.mean()) / mean_den
    cov = np.cov(num, den, ddof=1)
    spread = cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]
    return Estimate(
        ratio, max(float(spread), 0.0) / (num.size * mean_den**2), num.size, num.size - 1
    )


def cuped_theta(outcomes: ArrayLike, covariates: ArrayLike) -> float:
    """CUPED's ``theta = Cov(Y, X) / Var(X)`` over all units of all variants (0 when the
    covariate does not vary)."""
    y = _values(outcomes, "outcomes")
    x = _values(covariates, "covariates")
    if y.shape != x.shape or y.size < 2:
        raise ExperimentError("covariates: one per unit, at least 2 units")
    var_x = float(x.var(ddof=1))
    return 0.0 if var_x == 0 else float(np.cov(y, x, ddof=1)[0, 1]) / var_x


def cuped_adjust(
    outcomes: ArrayLike, covariates: ArrayLike, theta: float, covariate_mean: float
) -> NDArray[np.float64]:
    """``Y - theta * (X - mean X)``: per-unit outcomes with the covariate's explained part
    removed. Means are unchanged in expectation; the variance shrinks by ``1 - rho^2``."""
    y = _values(outcomes, "outcomes")
    x = _values(covariates, "covariates")
    if y.shape != x.shape:
        raise ExperimentError("covariates: one per unit")
    return y - theta * (x - covariate_mean)


def compare(control: Estimate, treatment: Estimate, alpha: float = 0.05) -> Difference:
    """Treatment against control: Welch's interval for the absolute difference, and the
    delta-method interval for the relative one, ``T/C - 1`` with
    ``Var ~ Var(T)/C^2 + T^2 Var(C)/C^4``. Intervals are ``1 - alpha``, two-sided, on the t
    distribution with Welch-Satterthwaite degrees of freedom.

    Raises :class:`ExperimentError` for alpha outside (0, 1)."""
    if not 0 < alpha < 1:
        raise ExperimentError("alpha: must lie in (0, 1)")
    diff = treatment.value - control.value
    variance = control.variance + treatment.variance
    se = math.sqrt(variance)
    dof = welch_dof(control, treatment)
    t_crit = float(sps.t.ppf(1 - alpha / 2, dof))
    if control.value != 0:
        relative = treatment.value / control.value - 1
        rel_var = (
            treatment.variance / control.value**2
            + treatment.value**2 * control.variance / control.value**4
        )
    else:
        relative, rel_var = math.nan, math.nan
    rel_se = math.sqrt(rel_var)
    p_value = two_sided_p(diff, se, dof)
    return Difference(
        absolute=diff,
        absolute_ci=(diff - t_crit * se, diff + t_crit * se),
        relative=relative,
        relative_ci=(relative - t_crit * rel_se, relative + t_crit * rel_se),
        p_value=p_value,
        standard_error=se,
        relative_standard_error=rel_se,
        dof=dof,
    )


def two_sided_p(diff: float, se: float, dof: float) -> float:
    """Two-sided p-value of ``diff / se`` on the t distribution with ``dof`` degrees."""
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * sps.t.sf(abs(diff) / se, dof))


def welch_dof(control: Estimate, treatment: Estimate) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two estimates."""
    num = (control.variance + treatment.variance) ** 2
    den = control.variance**2 / max(control.dof, 1) + treatment.variance**2 / max(treatment.dof, 1)
    return float(num / den) if den > 0 else float(control.dof + treatment.dof)
