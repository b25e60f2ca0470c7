"""An experiment's results from the store: exposures, guardrails from the usage ledger,
explicit feedback, analysed by :mod:`flightdeck.experiments.analysis`.

Guardrails are per-request metrics with the unit as the unit of analysis, so each is a ratio
metric (delta method): ``latency_ms``, ``ttft_ms`` (streamed requests), ``errors`` (share of
requests with status >= 400), ``input_tokens``, ``output_tokens``, ``cost`` and ``cache_hits``
(share of requests with cached tokens), each summed per unit over its requests. ``ranking``
experiments read their searches' records instead (``search/outcomes.py``): ``latency_ms``,
``errors``, ``results`` (hits per search) and ``zero_results`` (share of searches answering
none). Feedback metrics (``thumbs`` 1/0, ``rating``, any named metric, e.g. a search's
``click``) are the mean per unit of the unit's feedback.

CUPED: when units are users or API keys, each guardrail's pre-period covariate is the same
metric over the unit's requests in the ledger (the tenant's usage records of that OAuth user or
key) before its first exposure, from ``PRE_PERIOD`` before the experiment's first exposure on.
Units without earlier requests count with zeros; a metric none of whose units has earlier
requests in some variant is not adjusted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from flightdeck.experiments.analysis import (
    ExperimentResults,
    MetricResult,
    UnitSamples,
    analyse,
    metric_over_time,
)
from flightdeck.experiments.definitions import ExperimentOut, guardrails_of
from flightdeck.ledger.record import SEARCH_GROUP_PREFIX
from flightdeck.store.database import Store
from flightdeck.store.models_experiments import ExperimentRequestRow, ExposureRow, FeedbackRow
from flightdeck.store.models_tenancy import UsageRow

Sums = dict[str, dict[str, list[float]]]  # variant -> column -> per-unit values
PRE_PERIOD = timedelta(days=14)  # CUPED's look-back before the experiment's first exposure
Covariates = dict[tuple[str, str], dict[str, tuple[float, float]]]  # (variant, unit) -> metric
Series = list[tuple[str, list[tuple[float, MetricResult]]]]  # metric -> (time, result) looks


def guardrail_sums(usage: type[UsageRow]) -> tuple[Any, ...]:
    """The guardrails' sums over usage rows, in the order the results read them: latency, TTFT
    (sum and count), errors, input and output tokens, cost, cache hits, search results and
    searches without results."""
    return (
        func.sum(usage.latency_ms),
        func.sum(usage.ttft_ms),
        func.count(usage.ttft_ms),
        func.sum(case((usage.status >= 400, 1), else_=0)),
        func.sum(usage.input_tokens),
        func.sum(usage.output_tokens),
        func.sum(usage.cost),
        func.sum(case((usage.cached_tokens > 0, 1), else_=0)),
        func.sum(usage.result_count),
        func.sum(case((usage.result_count == 0, 1), else_=0)),
    )


def per_request(
    lat: Any, errors: Any, tin: Any, tout: Any, cost: Any, hits: Any, found: Any, none: Any
) -> dict[str, float]:
    """Every per-request guardrail's sum over a unit's requests (None sums as 0)."""
    sums = {
        "latency_ms": lat,
        "errors": errors,
        "input_tokens": tin,
        "output_tokens": tout,
        "cost": cost,
        "cache_hits": hits,
        "results": found,
        "zero_results": none,
    }
    return {name: float(value or 0) for name, value in sums.items()}


async def load_samples(
    store: Store, experiment: ExperimentOut
) -> tuple[dict[str, int], dict[str, dict[str, UnitSamples]]]:
    """Units per variant and per-unit samples of every metric (guardrails, then feedback)."""
    req, usage = ExperimentRequestRow, UsageRow
    guard = (
        select(
            req.variant,
            req.unit,
            func.min(ExposureRow.ts),
            func.count(),
            *guardrail_sums(usage),
        )
        .join(usage, usage.record_id == req.record_id)
        .join(
            ExposureRow,
            and_(ExposureRow.experiment_id == req.experiment_id, ExposureRow.unit == req.unit),
        )
        .where(req.experiment_id == experiment.id)
        .group_by(req.variant, req.unit)
    )
    feedback = (
        select(req.variant, req.unit, FeedbackRow.name, func.sum(FeedbackRow.value), func.count())
        .join(
            FeedbackRow,
            and_(
                FeedbackRow.response_id == req.response_id, FeedbackRow.tenant == experiment.tenant
            ),
        )
        .where(req.experiment_id == experiment.id)
        .group_by(req.variant, req.unit, FeedbackRow.name)
    )
    exposed = (
        select(ExposureRow.variant, func.count())
        .where(ExposureRow.experiment_id == experiment.id)
        .group_by(ExposureRow.variant)
    )
    async with store.engine.connect() as conn:
        units = {v.name: 0 for v in experiment.variants}
        units.update({row[0]: int(row[1]) for row in await conn.execute(exposed)})
        guard_rows = list(await conn.execute(guard))
        feedback_rows = list(await conn.execute(feedback))
        covariates = await _pre_period(conn, experiment)
    return units, _samples(experiment, guard_rows, feedback_rows, covariates)


def _ledger_unit(
    experiment: ExperimentOut,
) -> ColumnElement[Any] | InstrumentedAttribute[Any] | None:
    """The usage records' column that holds the experiment's unit id (None: no such column)."""
    if experiment.unit == "user":
        return UsageRow.user
    if experiment.unit == "api_key":  # units are 'key-<id>' (see runtime.unit_id)
        return literal("key-") + cast(UsageRow.key_id, String)
    return None


async def _pre_period(conn: Any, experiment: ExperimentOut) -> Covariates:
    """Each exposed unit's guardrail sums over its requests before its first exposure
    (``(numerator, denominator)`` per metric), for CUPED; empty for request and conversation
    units, whose ids the ledger does not hold."""
    column = _ledger_unit(experiment)
    if column is None:
        return {}
    first = await conn.scalar(
        select(func.min(ExposureRow.ts)).where(ExposureRow.experiment_id == experiment.id)
    )
    if first is None:
        return {}
    usage = UsageRow
    query = (
        select(
            ExposureRow.variant,
            ExposureRow.unit,
            func.count(),
            *guardrail_sums(usage),
        )
        .join(
            usage,
            and_(
                usage.tenant == experiment.tenant,
                column == ExposureRow.unit,
                usage.ts < ExposureRow.ts,
                usage.ts >= first - PRE_PERIOD,
                _same_surface(experiment, usage),
            ),
        )
        .where(ExposureRow.experiment_id == experiment.id)
        .group_by(ExposureRow.variant, ExposureRow.unit)
    )
    out: Covariates = {}
    for variant, unit, n, lat, ttft, n_ttft, *sums in await conn.execute(query):
        covariate = {k: (v, float(n)) for k, v in per_request(lat, *sums).items()}
        covariate["ttft_ms"] = (float(ttft or 0.0), float(n_ttft or 0))
        out[(variant, unit)] = covariate
    return out


def _same_surface(experiment: ExperimentOut, usage: type[UsageRow]) -> ColumnElement[bool]:
    """A ranking experiment's pre-period is the unit's searches; any other's its model calls."""
    searches = usage.model_group.like(SEARCH_GROUP_PREFIX + "%")
    return searches if experiment.target.kind == "ranking" else ~searches


def _samples(
    experiment: ExperimentOut,
    guard_rows: Sequence[Any],
    feedback_rows: Sequence[Any],
    covariates: Covariates | None = None,
) -> dict[str, dict[str, UnitSamples]]:
    covariates = covariates or {}
    # metric -> variant -> per-unit (value, denominator, time, pre value, pre denominator)
    columns: dict[str, dict[str, list[tuple[float, ...]]]] = defaultdict(lambda: defaultdict(list))
    first_seen: dict[tuple[str, str], float] = {}
    guardrails = guardrails_of(experiment.target.kind)
    for variant, unit, ts, n, lat, ttft, n_ttft, *sums in guard_rows:
        when = ts.timestamp()
        first_seen[(variant, unit)] = when
        pre = covariates.get((variant, unit), {})
        for name, total in per_request(lat, *sums).items():
            if name not in guardrails:
                continue
            x, m = pre.get(name, (0.0, 0.0))
            columns[name][variant].append((total, float(n), when, x, m))
        if n_ttft and "ttft_ms" in guardrails:
            x, m = pre.get("ttft_ms", (0.0, 0.0))
            columns["ttft_ms"][variant].append((float(ttft or 0.0), float(n_ttft), when, x, m))
    for variant, unit, name, total, n in feedback_rows:
        when = first_seen.get((variant, unit), 0.0)
        columns[name][variant].append((float(total), float(n), when, 0.0, 0.0))
    names = [*guardrails, *experiment.metrics]
    names += sorted(n for n in columns if n not in names)
    out: dict[str, dict[str, UnitSamples]] = {}
    for name in names:
        by_variant = columns.get(name, {})
        samples = {}
        for v in experiment.variants:
            rows = np.asarray(by_variant.get(v.name, []), dtype=np.float64).reshape(-1, 5)
            guardrail = name in guardrails and bool(covariates)
            samples[v.name] = UnitSamples(
                rows[:, 0],
                denominators=rows[:, 1],
                times=rows[:, 2],
                covariates=rows[:, 3] if guardrail else None,
                covariate_denominators=rows[:, 4] if guardrail else None,
            )
        out[name] = samples
    return out


async def experiment_results(store: Store, experiment: ExperimentOut) -> ExperimentResults:
    """The experiment's results now (see :func:`flightdeck.experiments.analysis.analyse`)."""
    units, metrics = await load_samples(store, experiment)
    return _analyse(experiment, units, metrics)


async def results_over_time(store: Store, experiment: ExperimentOut, looks: int = 10) -> Series:
    """Each metric's result at ``looks`` evenly spaced times from the first exposure to the
    last (for :func:`flightdeck.experiments.plots.plot_over_time`)."""
    _, metrics = await load_samples(store, experiment)
    return _over_time(experiment, metrics, looks)


async def results_with_history(
    store: Store, experiment: ExperimentOut, looks: int = 10
) -> tuple[ExperimentResults, Series]:
    """Both :func:`experiment_results` and :func:`results_over_time`, from one read of the
    store (the console's experiment view)."""
    units, metrics = await load_samples(store, experiment)
    return _analyse(experiment, units, metrics), _over_time(experiment, metrics, looks)


def _analyse(
    experiment: ExperimentOut, units: dict[str, int], metrics: dict[str, dict[str, UnitSamples]]
) -> ExperimentResults:
    weights = {v.name: float(v.weight or 0) or 1e-9 for v in experiment.variants}
    return analyse(units, weights, metrics, experiment.variants[0].name)


def _over_time(
    experiment: ExperimentOut, metrics: dict[str, dict[str, UnitSamples]], looks: int
) -> Series:
    series = []
    for name, samples in metrics.items():
        times = np.concatenate([s.times for s in samples.values() if s.times is not None])
        if times.size < 4:
            continue
        cutoffs = np.linspace(times.min(), times.max(), looks)[1:].tolist()
        over = metric_over_time(name, samples, cutoffs, experiment.variants[0].name)
        if over:
            series.append((name, list(over)))
    return series
