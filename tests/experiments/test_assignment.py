"""Assignment: deterministic, by weight and coverage, sticky, and layers that never overlap."""

from __future__ import annotations

from collections import Counter

import pytest
from growthbook import Experiment, GrowthBook

from flightdeck.experiments import (
    ExperimentError,
    ExperimentSpec,
    Layer,
    Namespace,
    assign,
    overlapping,
)

UNITS = [f"user-{i}" for i in range(20_000)]


def test_assignment_equals_the_official_sdk_run_of_the_same_experiment() -> None:
    spec = ExperimentSpec(
        "checkout",
        ("a", "b", "c"),
        (0.2, 0.3, 0.5),
        coverage=0.8,
        namespace=Namespace("surface", 0.1, 0.9),
    )
    experiment = Experiment(
        key="checkout",
        variations=["a", "b", "c"],
        weights=[0.2, 0.3, 0.5],
        coverage=0.8,
        namespace=("surface", 0.1, 0.9),
        hashVersion=2,
    )
    for unit in UNITS[:3000]:
        reference = GrowthBook(attributes={"id": unit}).run(experiment)
        ours = assign(spec, unit)
        assert ours.variant == (reference.value if reference.inExperiment else None), unit


def test_units_split_by_weights() -> None:
    spec = ExperimentSpec("split", ("control", "treatment"), (0.25, 0.75))
    counts = Counter(assign(spec, unit).variant for unit in UNITS)
    assert counts["control"] / len(UNITS) == pytest.approx(0.25, abs=0.01)
    assert counts["treatment"] / len(UNITS) == pytest.approx(0.75, abs=0.01)


def test_units_keep_their_variant_when_coverage_grows() -> None:
    narrow = ExperimentSpec("grow", ("a", "b"), coverage=0.2)
    wide = ExperimentSpec("grow", ("a", "b"), coverage=0.7)
    before = {u: assign(narrow, u).variant for u in UNITS}
    after = {u: assign(wide, u).variant for u in UNITS}
    included = [u for u, v in before.items() if v is not None]
    assert len(included) == pytest.approx(0.2 * len(UNITS), rel=0.05)
    assert all(after[u] == before[u] for u in included)
    assert sum(v is not None for v in after.values()) == pytest.approx(0.7 * len(UNITS), rel=0.05)


def test_a_recorded_variant_wins_when_weights_change() -> None:
    even = ExperimentSpec("reweigh", ("a", "b"), (0.5, 0.5))
    skewed = ExperimentSpec("reweigh", ("a", "b"), (0.1, 0.9))
    moved = [u for u in UNITS[:2000] if assign(even, u).variant != assign(skewed, u).variant]
    assert moved  # without a record, changing weights moves units
    for unit in moved:
        first = assign(even, unit)
        again = assign(skewed, unit, recorded=first.variant)
        assert again.variant == first.variant and again.sticky


def test_a_recorded_variant_that_no_longer_exists_is_ignored() -> None:
    spec = ExperimentSpec("gone", ("a", "b"))
    assert assign(spec, "u1", recorded="removed") == assign(spec, "u1")


def test_experiments_in_disjoint_slices_of_a_layer_never_share_a_unit() -> None:
    layer = Layer("gateway:chat")
    first = ExperimentSpec("model-a", ("x", "y"), namespace=layer.allocate(0.5))
    second = ExperimentSpec("model-b", ("x", "y"), namespace=layer.allocate(0.5))
    in_first = {u for u in UNITS if assign(first, u).in_experiment}
    in_second = {u for u in UNITS if assign(second, u).in_experiment}
    assert not in_first & in_second
    assert len(in_first) + len(in_second) == len(UNITS)


def test_layer_allocates_the_lowest_free_gap_and_refuses_when_full() -> None:
    layer = Layer("l", [Namespace("l", 0.0, 0.3), Namespace("l", 0.5, 1.0)])
    assert layer.allocate(0.2) == Namespace("l", 0.3, 0.5)
    with pytest.raises(ExperimentError, match="no free slice"):
        layer.allocate(0.01)
    assert overlapping(layer.taken) is None
    assert overlapping([Namespace("l", 0, 0.5), Namespace("l", 0.4, 1)]) is not None
    assert overlapping([Namespace("l", 0, 0.5), Namespace("m", 0.4, 1)]) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (ExperimentSpec("", ("a", "b")), "key"),
        (ExperimentSpec("k", ("a",)), "variants"),
        (ExperimentSpec("k", ("a", "a")), "variants"),
        (ExperimentSpec("k", ("a", "b"), (0.7, 0.7)), "weights"),
        (ExperimentSpec("k", ("a", "b"), (1.5, -0.5)), "weights"),
        (ExperimentSpec("k", ("a", "b"), coverage=1.2), "coverage"),
        (ExperimentSpec("k", ("a", "b"), hash_version=3), "hash_version"),
        (ExperimentSpec("k", ("a", "b"), namespace=Namespace("l", 0.6, 0.2)), "namespace"),
    ],
)
def test_invalid_definitions_name_the_field(spec: ExperimentSpec, field: str) -> None:
    with pytest.raises(ExperimentError, match=f"^{field}:"):
        spec.validate()
