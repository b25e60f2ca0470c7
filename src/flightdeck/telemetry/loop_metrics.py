"""Counters and histograms for the request path: recorded without locks on the event loop,
exposed in Prometheus' text format through a ``prometheus_client`` collector.

``prometheus_client``'s own ``Counter``/``Histogram`` take a lock for every increment (a
histogram observation takes two and scans its buckets in Python): about 1 us per observation,
several per request. Every recording on Flightdeck's request path happens on the event loop's
thread, so plain additions are exact there; a scrape (the event loop's ``/metrics``, or the
scrape listener's thread) reads the numbers as they are, as ``prometheus_client`` does.

Exposition is ``prometheus_client``'s (``CounterMetricFamily``, ``HistogramMetricFamily``,
``generate_latest``): the same names, ``_total``/``_bucket``/``_sum``/``_count`` series and
``le`` labels as its own collectors (buckets are ``le``: an observation equal to a bound falls
into that bound's bucket).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class CounterChild:
    """One label set's count."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0; ValueError otherwise, as counters only go up)."""
        if amount < 0:
            raise ValueError(f"counters only go up: inc({amount})")
        self.value += amount


class HistogramChild:
    """One label set's bucket counts (not cumulative; index i counts bounds[i-1] < v <= bounds[i])
    and sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Record one observation (in the metric's unit)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


Child = TypeVar("Child", CounterChild, HistogramChild)


class _Labelled(Collector, Generic[Child]):
    """A metric's children by label values, made on first use (ValueError for the wrong number
    of values), registered as a collector in ``registry``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.children: dict[tuple[str, ...], Child] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> Child:
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values!r}")
            child = self.children[values] = self._new_child()
        return child

    def _new_child(self) -> Child:
        raise NotImplementedError

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _family(self) -> Metric:
        raise NotImplementedError


class LoopCounter(_Labelled[CounterChild]):
    """A labelled counter (``name`` without ``_total``); ``labels(*values)`` returns the child
    for those label values, made on first use (ValueError for the wrong number of values)."""

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for values, child in list(self.children.items()):
            family.add_metric(list(values), child.value)
        yield family


class LoopHistogram(_Labelled[HistogramChild]):
    """A labelled histogram with explicit bucket bounds (``+Inf`` is added when missing);
    ``labels(*values)`` returns the child for those label values, made on first use."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
        buckets: Sequence[float] = (),
    ) -> None:
        bounds = tuple(float(b) for b in buckets)
        if list(bounds) != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name}: buckets must increase strictly, got {buckets!r}")
        if not bounds or bounds[-1] != math.inf:
            bounds += (math.inf,)
        self.bounds = bounds
        self._les = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for values, child in list(self.children.items()):
            cumulative, buckets = 0, []
            for le, count in zip(self._les, list(child.counts), strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(values), buckets, child.sum)
        yield family
