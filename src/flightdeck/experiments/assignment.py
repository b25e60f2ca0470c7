"""Deterministic assignment of a unit to a variant (GrowthBook's experiment algorithm).

For a unit id (a user, an API key, a conversation or a request), an experiment:

1. skips an empty unit id;
2. skips a unit outside its namespace (its slice of a layer, :class:`Namespace`);
3. hashes the unit with the experiment's seed (:func:`gb_hash`, version 1 or 2) and picks the
   variant whose bucket range holds the hash (:func:`bucket_ranges`, :func:`choose_variation`);
   a hash outside every range (coverage below 1) is not in the experiment.

A variant recorded earlier for the unit (its first exposure) wins over the hash when it is
still one of the experiment's variants: changing weights then moves no unit already exposed
(GrowthBook's "sticky bucketing"). Coverage growth needs no record: ranges only grow.
Source: GrowthBook's SDK specification, ``_run`` in ``packages/sdk-js/src/GrowthBook.ts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flightdeck.experiments.buckets import (
    Namespace,
    bucket_ranges,
    choose_variation,
    in_namespace,
    valid_weights,
)
from flightdeck.experiments.errors import ExperimentError
from flightdeck.experiments.hashing import HASH_VERSIONS, gb_hash


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    """What assignment needs to know of an experiment.

    ``variants`` are names (the first is the control); ``weights`` one per variant, summing to
    1; ``coverage`` the share of units (of the namespace) in the experiment, in [0, 1];
    ``seed`` defaults to ``key``. :meth:`validate` raises :class:`ExperimentError` naming the
    first invalid field."""

    key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...] = ()
    coverage: float = 1.0
    seed: str = ""
    namespace: Namespace | None = None
    hash_version: int = 2

    def __post_init__(self) -> None:
        if not self.weights and self.variants:
            object.__setattr__(self, "weights", (1 / len(self.variants),) * len(self.variants))

    @property
    def hash_seed(self) -> str:
        """The seed units are hashed with: ``seed``, or the key when none was given."""
        return self.seed or self.key

    def validate(self) -> ExperimentSpec:
        """Return self when every field is valid; raise :class:`ExperimentError` otherwise."""
        if not self.key:
            raise ExperimentError("key: must not be empty", param="key")
        if len(self.variants) < 2:
            raise ExperimentError("variants: an experiment needs at least two", param="variants")
        if len(set(self.variants)) != len(self.variants) or not all(self.variants):
            raise ExperimentError("variants: names must be unique and non-empty", param="variants")
        if not valid_weights(self.weights, len(self.variants)):
            raise ExperimentError(
                "weights: one non-negative weight per variant, summing to 1", param="weights"
            )
        if not 0 <= self.coverage <= 1:
            raise ExperimentError("coverage: must lie in [0, 1]", param="coverage")
        if self.hash_version not in HASH_VERSIONS:
            raise ExperimentError("hash_version: must be 1 or 2", param="hash_version")
        ns = self.namespace
        if ns is not None and not (ns.layer and 0 <= ns.start < ns.end <= 1):
            raise ExperimentError(
                "namespace: a layer name and 0 <= start < end <= 1", param="namespace"
            )
        return self


@dataclass(frozen=True, slots=True)
class Assignment:
    """The outcome for one unit: ``variant`` is None when the unit is not in the experiment.
    ``bucket`` is the unit's hash in [0, 1) (None when it was not hashed); ``sticky`` says a
    recorded variant was reused."""

    key: str
    unit: str
    variant: str | None
    index: int = -1
    bucket: float | None = None
    sticky: bool = False

    @property
    def in_experiment(self) -> bool:
        return self.variant is not None


def assign(spec: ExperimentSpec, unit: str, recorded: str | None = None) -> Assignment:
    """Assign ``unit`` to one of ``spec``'s variants (see the module docstring).

    ``recorded`` is the variant stored at the unit's first exposure, if any."""
    if recorded is not None and recorded in spec.variants:
        return Assignment(spec.key, unit, recorded, spec.variants.index(recorded), sticky=True)
    if not unit:
        return Assignment(spec.key, unit, None)
    if spec.namespace is not None and not in_namespace(unit, spec.namespace):
        return Assignment(spec.key, unit, None)
    bucket = gb_hash(spec.hash_seed, unit, spec.hash_version)
    if bucket is None:
        return Assignment(spec.key, unit, None)
    ranges = bucket_ranges(len(spec.variants), spec.coverage, spec.weights)
    index = choose_variation(bucket, ranges)
    if index < 0:
        return Assignment(spec.key, unit, None, bucket=bucket)
    return Assignment(spec.key, unit, spec.variants[index], index, bucket)


@dataclass(slots=True)
class Layer:
    """The slices of one layer already taken; :meth:`allocate` finds room for a new one, so
    experiments on the same surface never share a unit."""

    name: str
    taken: list[Namespace] = field(default_factory=list)

    def allocate(self, width: float) -> Namespace:
        """The lowest free slice of ``width`` (0 < width <= 1) in the layer, now taken.

        Raises :class:`ExperimentError` when no gap is wide enough."""
        if not 0 < width <= 1:
            raise ExperimentError("layer width: must lie in (0, 1]", param="width")
        edge = 0.0
        for slice_ in sorted(self.taken, key=lambda s: s.start):
            if slice_.start - edge >= width - 1e-9:
                break
            edge = max(edge, slice_.end)
        else:
            if 1.0 - edge < width - 1e-9:
                raise ExperimentError(
                    f"layer {self.name!r}: no free slice of width {width:g} is left",
                    param="layer",
                )
        taken = Namespace(self.name, edge, min(1.0, edge + width))
        self.taken.append(taken)
        return taken


def overlapping(namespaces: Sequence[Namespace]) -> tuple[Namespace, Namespace] | None:
    """The first pair of slices that overlap in one layer, or None when all are disjoint."""
    for i, first in enumerate(namespaces):
        for second in namespaces[i + 1 :]:
            if first.overlaps(second):
                return first, second
    return None
