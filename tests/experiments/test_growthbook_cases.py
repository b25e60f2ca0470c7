"""Hashing, bucket ranges, variation choice and namespaces match GrowthBook.

Two references: GrowthBook's cross-SDK ``cases.json`` (``packages/sdk-js/test/cases.json`` of
github.com/growthbook/growthbook, MIT; vendored unchanged as ``data/growthbook_cases.json``
beside this file, with its license notice and source commit in ``data/GROWTHBOOK_LICENSE.txt``),
and the official ``growthbook`` Python SDK, installed from PyPI, on thousands of generated inputs.
``FLIGHTDECK_GROWTHBOOK_CASES`` points the cases at another copy (e.g. a newer one).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from growthbook import core as gb

from flightdeck.experiments import (
    Namespace,
    bucket_ranges,
    choose_variation,
    equal_weights,
    gb_hash,
    hash_many,
    in_namespace,
)

VENDORED = Path(__file__).resolve().parent / "data" / "growthbook_cases.json"


def _cases_file() -> Path:
    env = os.environ.get("FLIGHTDECK_GROWTHBOOK_CASES")
    return Path(env) if env else VENDORED


def _cases(section: str) -> list[Any]:
    cases: list[Any] = json.loads(_cases_file().read_text())[section]
    assert cases, f"cases.json has no {section!r} cases"
    return cases


def _rounded(ranges: list[tuple[float, float]] | list[list[float]]) -> list[list[float]]:
    return [[round(a, 6), round(b, 6)] for a, b in ranges]


def test_hash_matches_every_growthbook_case() -> None:
    cases = _cases("hash")
    assert len(cases) >= 10
    for seed, value, version, expected in cases:
        got = gb_hash(seed, value, version)
        if expected is None:
            assert got is None
        else:
            assert got is not None and round(got, 4) == expected, (seed, value, version)


def test_bucket_ranges_match_every_growthbook_case() -> None:
    for name, (count, coverage, weights), expected in _cases("getBucketRange"):
        assert _rounded(bucket_ranges(count, coverage, weights)) == _rounded(expected), name


def test_choose_variation_matches_every_growthbook_case() -> None:
    for name, bucket, ranges, expected in _cases("chooseVariation"):
        assert choose_variation(bucket, [tuple(r) for r in ranges]) == expected, name


def test_in_namespace_matches_every_growthbook_case() -> None:
    for name, unit, (layer, start, end), expected in _cases("inNamespace"):
        assert in_namespace(unit, Namespace(layer, start, end)) is expected, name


def test_equal_weights_match_every_growthbook_case() -> None:
    for count, expected in _cases("getEqualWeights"):
        assert [round(w, 8) for w in equal_weights(count)] == [round(w, 8) for w in expected]


ALPHABET = "abcXYZ019 _-:/|@é中😀\u0301"


def _random_text(rng: random.Random, longest: int = 24) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def test_hash_equals_the_official_python_sdk_on_generated_units() -> None:
    rng = random.Random(18)
    for _ in range(3000):
        seed, unit = _random_text(rng), _random_text(rng)
        for version in (1, 2, 3):
            assert gb_hash(seed, unit, version) == gb.gbhash(seed, unit, version), (seed, unit)


def test_vectorised_hash_equals_the_scalar_hash() -> None:
    rng = random.Random(7)
    units = [_random_text(rng) for _ in range(2000)] + [f"user-{i}" for i in range(2000)]
    units += ["nul\x00inside", "trailing\x00", ""]
    for version in (1, 2):
        expected = [gb.gbhash("exp-seed", u, version) for u in units]
        assert hash_many("exp-seed", units, version).tolist() == expected


def test_bucket_ranges_and_choice_equal_the_official_python_sdk() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        count = rng.randint(1, 6)
        coverage = rng.choice([0.0, 1.0, rng.random(), rng.uniform(-0.5, 1.5)])
        raw = [rng.random() for _ in range(count)]
        weights = rng.choice(
            [None, [w / sum(raw) for w in raw], raw, [rng.random() for _ in range(count + 1)]]
        )
        ours = bucket_ranges(count, coverage, weights)
        assert ours == [tuple(r) for r in gb.getBucketRanges(count, coverage, weights)]
        bucket = round(rng.random(), 4)
        assert choose_variation(bucket, ours) == gb.chooseVariation(bucket, ours)


def test_namespaces_equal_the_official_python_sdk() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        unit, layer = _random_text(rng), _random_text(rng, 8)
        start = rng.random()
        end = rng.uniform(start, 1)
        assert in_namespace(unit, Namespace(layer, start, end)) == gb.inNamespace(
            unit, (layer, start, end)
        )
