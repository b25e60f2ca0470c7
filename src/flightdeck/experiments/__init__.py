"""Experiments (issue #18): GrowthBook-compatible assignment, and (in submodules that load
SciPy) the analysis of outcomes.

This package's top level holds only what the request path needs (hashing, bucket ranges,
assignment), so importing it stays cheap; ``flightdeck.experiments.analysis``,
``.sequential``, ``.srm``, ``.offline`` and ``.plots`` hold the statistics. See
docs/experiments.md.
"""

from flightdeck.experiments.assignment import (
    Assignment,
    ExperimentSpec,
    Layer,
    assign,
    overlapping,
)
from flightdeck.experiments.buckets import (
    Namespace,
    bucket_ranges,
    choose_variation,
    equal_weights,
    in_namespace,
    valid_weights,
)
from flightdeck.experiments.errors import ExperimentError
from flightdeck.experiments.hashing import fnv1a32, gb_hash, hash_many

__all__ = [
    "Assignment",
    "ExperimentError",
    "ExperimentSpec",
    "Layer",
    "Namespace",
    "assign",
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "fnv1a32",
    "gb_hash",
    "hash_many",
    "in_namespace",
    "overlapping",
    "valid_weights",
]
