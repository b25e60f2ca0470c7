"""Always-valid confidence sequences for the difference of two means.

An interval from :func:`confidence_sequence` may be looked at after every new unit: the
chance that it ever excludes the true difference, at any look, is at most ``alpha``
(asymptotically). A fixed-horizon interval looked at daily would not keep that promise.

Source: the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences" (arXiv 2103.06476v7,
eq. 9), which is the normal-mixture boundary of Howard, Ramdas, McAuliffe and Sekhon,
"Time-uniform, nonparametric, nonasymptotic confidence sequences" (Ann. Statist. 2021) with
the mixing variance ``rho^2`` chosen for a planned sample size ``tuning`` (eq. 161). GrowthBook
(``gbstats/frequentist/tests.py``) and Eppo implement the same boundary; GrowthBook's default
``tuning`` is 5000 units.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from flightdeck.experiments.errors import ExperimentError
from flightdeck.experiments.stats import Difference, Interval

DEFAULT_TUNING = 5000.0


def mixture_rho(alpha: float, tuning: float = DEFAULT_TUNING) -> float:
    """The mixing parameter that makes the boundary tightest at ``tuning`` units (eq. 161)."""
    if not 0 < alpha < 1 or tuning <= 0:
        raise ExperimentError("alpha must lie in (0, 1) and tuning be positive")
    log_alpha = -2 * math.log(alpha)
    return math.sqrt((log_alpha + math.log(log_alpha + 1)) / tuning)


def halfwidth(
    standard_error: float, units: int, alpha: float = 0.05, tuning: float = DEFAULT_TUNING
) -> float:
    """Half the width of the two-sided confidence sequence after ``units`` units in all, for
    an estimate whose standard error is ``standard_error`` (so the per-unit variance is
    ``standard_error**2 * units``)."""
    if units < 1:
        raise ExperimentError("units: need at least one unit")
    widths = halfwidths(np.array([standard_error]), np.array([units]), alpha, tuning)
    return float(widths[0])


def halfwidths(
    standard_errors: NDArray[np.float64],
    units: NDArray[np.int64] | NDArray[np.float64],
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> NDArray[np.float64]:
    """:func:`halfwidth` elementwise over arrays of the same shape (for simulations and
    results over time)."""
    rho2 = mixture_rho(alpha, tuning) ** 2
    n = np.asarray(units, dtype=np.float64)
    grown = n * rho2 + 1
    variance = np.asarray(standard_errors, dtype=np.float64) ** 2 * n
    out: NDArray[np.float64] = np.sqrt(
        variance * 2 * grown * np.log(np.sqrt(grown) / alpha) / (n**2 * rho2)
    )
    return out


def confidence_sequence(
    difference: Difference, units: int, alpha: float = 0.05, tuning: float = DEFAULT_TUNING
) -> tuple[Interval, Interval, float]:
    """The always-valid ``1 - alpha`` intervals of ``difference`` after ``units`` units (all
    variants together): (absolute interval, relative interval, always-valid p-value).

    The p-value is ``min(1, 1 / E)`` for the mixture e-value ``E`` of the same boundary
    (eq. 155 of Waudby-Smith et al.), so ``p < alpha`` exactly when the interval excludes 0."""
    width = halfwidth(difference.standard_error, units, alpha, tuning)
    rel_width = halfwidth(difference.relative_standard_error, units, alpha, tuning)
    absolute = (difference.absolute - width, difference.absolute + width)
    relative = (difference.relative - rel_width, difference.relative + rel_width)
    return absolute, relative, always_valid_p(difference, units, alpha, tuning)


def always_valid_p(
    difference: Difference, units: int, alpha: float = 0.05, tuning: float = DEFAULT_TUNING
) -> float:
    """The always-valid p-value of "no difference" (see :func:`confidence_sequence`)."""
    se = difference.standard_error
    if se == 0:
        return 1.0 if difference.absolute == 0 else 0.0
    rho2 = mixture_rho(alpha, tuning) ** 2
    z2 = (difference.absolute / se) ** 2  # = st^2 / (n sigma^2) of eq. 155
    grown = units * rho2 + 1
    log_e = units * rho2 * z2 / (2 * grown) - 0.5 * math.log(grown)
    return 1.0 if log_e <= 0 else min(1.0, math.exp(-log_e))
