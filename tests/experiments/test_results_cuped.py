"""CUPED in the results query: each unit's guardrails over its ledger rows before its first
exposure are the covariate, and the results show the variance they removed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from flightdeck.experiments.definitions import ExperimentIn
from flightdeck.experiments.results import PRE_PERIOD, experiment_results
from flightdeck.experiments.store import ExperimentStore
from flightdeck.store.database import Store
from flightdeck.store.models_experiments import ExperimentRequestRow, ExposureRow
from flightdeck.store.models_tenancy import UsageRow

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EFFECT = 1.05  # the treatment is 5% slower


def spec(key: str, unit: str) -> ExperimentIn:
    return ExperimentIn.model_validate(
        {
            "key": key,
            "unit": unit,
            "target": {"kind": "model_group", "name": "chat"},
            "layer": key,
            "variants": [{"name": "control", "value": "chat-a"}, {"name": "slow", "value": "b"}],
        }
    )


async def seed(store: Store, experiment_id: int, users: int, *, pre: bool, seed: int) -> None:
    """Per user: a speed factor; 3 requests before exposure (inside the pre-period, when
    ``pre``), one request 30 days earlier (outside it), 2 requests after exposure."""
    rng = np.random.default_rng(seed)
    rows: list[object] = []
    n = 0

    def usage(user: str, ts: datetime, latency: float) -> str:
        nonlocal n
        n += 1
        record = f"{experiment_id}-{n}"
        rows.append(
            UsageRow(
                record_id=record,
                ts=ts,
                tenant="t1",
                user=user,
                model_group="chat",
                latency_ms=latency,
                status=200,
                input_tokens=10,
                output_tokens=20,
                cost=0.001,
            )
        )
        return record

    for i in range(users):
        user = f"user-{i}"
        variant = "control" if i % 2 else "slow"
        speed = float(rng.lognormal(0, 0.5)) * 1000
        exposed = T0 + timedelta(minutes=i)
        if pre:
            for d in (1, 2, 3):
                usage(user, exposed - timedelta(days=d), speed * rng.normal(1, 0.1))
        # far outside the pre-period: an outlier that would wreck the covariate if counted
        usage(user, exposed - PRE_PERIOD - timedelta(days=5), 1e7 * (i % 7 == 0))
        for j in range(2):
            latency = speed * (EFFECT if variant == "slow" else 1) * rng.normal(1, 0.1)
            record = usage(user, exposed + timedelta(seconds=j), latency)
            if j == 0:
                rows.append(
                    ExposureRow(
                        experiment_id=experiment_id,
                        unit=user,
                        variant=variant,
                        ts=exposed,
                        record_id=record,
                    )
                )
            rows.append(
                ExperimentRequestRow(
                    record_id=record,
                    experiment_id=experiment_id,
                    variant=variant,
                    unit=user,
                    response_id=None,
                )
            )
    async with store.session() as session:
        session.add_all(rows)
        await session.commit()


def test_results_use_the_units_pre_exposure_ledger_window(tmp_path: Path) -> None:
    async def run() -> tuple[dict[str, object], dict[str, object]]:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        await store.migrate()
        experiments = ExperimentStore(store)
        with_pre = await experiments.create("t1", spec("with-pre", "user"))
        without = await experiments.create("t1", spec("without", "request"))
        await seed(store, with_pre.id, 600, pre=True, seed=1)
        await seed(store, without.id, 600, pre=False, seed=1)
        adjusted = (await experiment_results(store, with_pre)).to_dict()
        plain = (await experiment_results(store, without)).to_dict()
        await store.close()
        return adjusted, plain

    adjusted, plain = asyncio.run(run())
    latency = next(m for m in adjusted["metrics"] if m["name"] == "latency_ms")  # type: ignore[attr-defined]
    unadjusted = next(m for m in plain["metrics"] if m["name"] == "latency_ms")  # type: ignore[attr-defined]
    assert latency["cuped"] is True and unadjusted["cuped"] is False
    assert unadjusted["variance_reduction"] is None
    # The speed factor explains most of the variance between users (rho^2 about 0.9 here).
    assert latency["variance_reduction"] > 0.7
    a, b = latency["comparisons"][0], unadjusted["comparisons"][0]
    width = a["absolute_ci"][1] - a["absolute_ci"][0]
    assert width < 0.5 * (b["absolute_ci"][1] - b["absolute_ci"][0])
    # Still unbiased: the 5% slowdown is inside the narrower interval.
    assert a["relative_ci"][0] < EFFECT - 1 < a["relative_ci"][1]
    assert a["relative_ci"][0] > 0  # and only CUPED's interval finds it
    assert b["relative_ci"][0] < 0


def test_ratio_cuped_narrows_by_about_rho_squared() -> None:
    from flightdeck.experiments.analysis import UnitSamples, analyse_metric

    rng = np.random.default_rng(3)
    samples = {}
    for variant in ("a", "b"):
        units = 4000
        requests = rng.integers(1, 5, units).astype(float)
        base = rng.normal(100, 30, units)
        values = requests * (base + rng.normal(0, 15, units))  # per-unit sum over requests
        pre_requests = rng.integers(1, 5, units).astype(float)
        pre = pre_requests * (base + rng.normal(0, 15, units))
        samples[variant] = UnitSamples(
            values, requests, covariates=pre, covariate_denominators=pre_requests
        )
    adjusted = analyse_metric("latency_ms", samples)
    plain = analyse_metric("latency_ms", samples, use_cuped=False)
    assert adjusted.cuped and not plain.cuped
    # The linearised values are a = n (base + e - R), b = m (base + e' - R'), n and m the
    # (independent) request counts 1-4: rho = E[n] E[m] var(base) / (E[n^2] (var(base) +
    # var(e))) = (2.5^2 / 7.5) * 30^2 / (30^2 + 15^2) = 2/3, rho^2 = 0.444.
    rho2 = (2.5**2 / 7.5 * 30**2 / (30**2 + 15**2)) ** 2
    assert adjusted.variance_reduction == pytest.approx(rho2, abs=0.08)
    for v in ("a", "b"):
        assert adjusted.estimates[v].value == pytest.approx(plain.estimates[v].value, rel=0.02)


def test_the_cli_table_names_the_variance_cuped_removed() -> None:
    from flightdeck.cli.experiments import _cuped_note

    assert _cuped_note(True, 0.42) == " (CUPED -42% var)"
    assert _cuped_note(False, None) == ""
