"""Offline experiments: the same comparison over two evaluation runs (two extraction settings,
index A against index B on recall and latency).

A run is a file of one row per evaluated item (a query, a page): JSON Lines, a JSON array of
objects, or CSV with a header, e.g. ``{"id": "q17", "recall": 0.8, "latency_ms": 12.5}``.
When both runs hold the same ``id`` values, items are paired (the difference is taken per item,
a paired t interval; the relative difference is the ratio of means by the delta method with
the runs' covariance); otherwise the runs are compared as two independent samples (Welch).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from flightdeck.experiments.errors import ExperimentError
from flightdeck.experiments.stats import (
    Difference,
    compare,
    mean_estimate,
    ratio_estimate,
    two_sided_p,
)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OfflineComparison:
    """Run B against run A on one metric: items in each, means, and the difference."""

    metric: str
    paired: bool
    items_a: int
    items_b: int
    mean_a: float
    mean_b: float
    difference: Difference

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {
            "metric": self.metric,
            "paired": self.paired,
            "items": [self.items_a, self.items_b],
            "mean": [self.mean_a, self.mean_b],
            "absolute": d.absolute,
            "absolute_ci": list(d.absolute_ci),
            "relative": d.relative,
            "relative_ci": list(d.relative_ci),
            "p_value": d.p_value,
        }


def read_run(path: Path) -> list[Row]:
    """The rows of one run file (``.csv`` by extension, JSON or JSON Lines otherwise).

    Raises :class:`ExperimentError` naming the file (and line) when it cannot be parsed, and
    OSError when it cannot be read."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExperimentError(
                f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        if not all(isinstance(r, dict) for r in rows):
            raise ExperimentError(f"{path}: a JSON array of objects expected")
        return list(rows)
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExperimentError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ExperimentError(f"{path}:{number}: a JSON object expected")
        out.append(row)
    return out


def numeric_fields(rows: Sequence[Row], id_field: str = "id") -> list[str]:
    """Fields other than ``id_field`` whose values in the first row read as numbers."""
    if not rows:
        return []
    return [k for k, v in rows[0].items() if k != id_field and _as_number(v) is not None]


def compare_runs(
    run_a: Sequence[Row],
    run_b: Sequence[Row],
    metrics: Sequence[str] | None = None,
    *,
    id_field: str = "id",
    alpha: float = 0.05,
) -> list[OfflineComparison]:
    """Compare run B against run A on each metric (default: the numeric fields both share).

    Raises :class:`ExperimentError` for a missing or non-numeric metric value (naming run,
    row and field), duplicate ids, or fewer than 2 items."""
    if metrics is None:
        shared = set(numeric_fields(run_b, id_field))
        metrics = [m for m in numeric_fields(run_a, id_field) if m in shared]
    if not metrics:
        raise ExperimentError("no numeric metric is shared by both runs")
    order = _pairing(run_a, run_b, id_field)
    results = []
    for metric in metrics:
        a = _column(run_a, metric, "A")
        b = _column(run_b, metric, "B")
        if order is not None:
            diff = _paired(a[order[0]], b[order[1]], alpha)
        else:
            diff = compare(mean_estimate(a), mean_estimate(b), alpha)
        results.append(
            OfflineComparison(
                metric, order is not None, a.size, b.size, float(a.mean()), float(b.mean()), diff
            )
        )
    return results


def _pairing(
    run_a: Sequence[Row], run_b: Sequence[Row], id_field: str
) -> tuple[NDArray[np.intp], NDArray[np.intp]] | None:
    ids_a = [r.get(id_field) for r in run_a]
    ids_b = [r.get(id_field) for r in run_b]
    if None in ids_a or None in ids_b:
        return None
    for name, ids in (("A", ids_a), ("B", ids_b)):
        if len(set(map(str, ids))) != len(ids):
            raise ExperimentError(f"run {name}: {id_field!r} values repeat")
    position_b = {str(i): n for n, i in enumerate(ids_b)}
    if set(position_b) != set(map(str, ids_a)):
        return None
    order_b = [position_b[str(i)] for i in ids_a]
    return np.arange(len(ids_a)), np.asarray(order_b, dtype=np.intp)


def _paired(a: NDArray[np.float64], b: NDArray[np.float64], alpha: float) -> Difference:
    if a.size < 2:
        raise ExperimentError("need at least 2 items")
    deltas = mean_estimate(b - a)
    t_crit = float(sps.t.ppf(1 - alpha / 2, deltas.dof))
    se = deltas.standard_error
    mean_a = float(a.mean())
    if mean_a != 0:
        ratio = ratio_estimate(b, a)
        relative, rel_se = ratio.value - 1, ratio.standard_error
    else:
        relative, rel_se = math.nan, math.nan
    p_value = two_sided_p(deltas.value, se, deltas.dof)
    return Difference(
        absolute=deltas.value,
        absolute_ci=(deltas.value - t_crit * se, deltas.value + t_crit * se),
        relative=relative,
        relative_ci=(relative - t_crit * rel_se, relative + t_crit * rel_se),
        p_value=p_value,
        standard_error=se,
        relative_standard_error=rel_se,
        dof=deltas.dof,
    )


def _column(rows: Sequence[Row], metric: str, run: str) -> NDArray[np.float64]:
    values = []
    for number, row in enumerate(rows, 1):
        value = _as_number(row.get(metric))
        if value is None:
            raise ExperimentError(f"run {run}, row {number}: {metric!r} is missing or not a number")
        values.append(value)
    if len(values) < 2:
        raise ExperimentError(f"run {run}: need at least 2 rows")
    return np.asarray(values, dtype=np.float64)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
