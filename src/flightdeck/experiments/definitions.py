"""Experiment definitions as the admin API, the CLI and the store see them.

An experiment belongs to a tenant and has a ``key`` (unique in the tenant), a ``unit`` (who is
assigned: ``user``, ``api_key``, ``conversation`` or ``request``), a ``target`` (what a variant
changes), variants with weights, a coverage, a layer and metrics. Targets:

- ``model_group``: ``target.name`` is the model group requests ask for; a variant's ``value``
  is the model group to route to (every model call: gateway, assistant);
- ``parameters``: same target; ``value`` is an object of request parameters merged into the body;
- ``prompt_version``: ``target.name`` is the assistant mode (``*``: all); ``value`` a prompt
  template version;
- ``ranking``: ``target.name`` is a collection (``*``: all); ``value`` a ranking configuration.

Experiments of one layer take disjoint slices of it (``layer_share``), so two experiments on the
same surface never share a unit; the default layer is ``<kind>:<name>``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from flightdeck.experiments.assignment import ExperimentSpec
from flightdeck.experiments.buckets import Namespace, valid_weights

Unit = Literal["user", "api_key", "conversation", "request"]
TargetKind = Literal["model_group", "parameters", "prompt_version", "ranking"]
Status = Literal["draft", "running", "stopped"]
KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
GUARDRAILS = (
    "latency_ms",
    "ttft_ms",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost",
    "cache_hits",
)
SEARCH_GUARDRAILS = ("latency_ms", "errors", "results", "zero_results")
"""Guardrails of ``ranking`` experiments, from the searches' usage records: latency, errors,
results per search and the share of searches with none."""


def guardrails_of(kind: str) -> tuple[str, ...]:
    """The guardrail metrics of an experiment with target ``kind``."""
    return SEARCH_GUARDRAILS if kind == "ranking" else GUARDRAILS


class Target(BaseModel):
    """What the experiment changes (see the module docstring)."""

    kind: TargetKind
    name: str = Field(min_length=1, max_length=200)


class Variant(BaseModel):
    """One arm: a unique ``name``, its ``weight`` (default: equal) and the ``value`` it sets."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    weight: float | None = Field(None, ge=0, le=1)
    value: Any = None


class ExperimentIn(BaseModel):
    """A new experiment (created as a draft; ``start`` runs it)."""

    key: str = Field(pattern=KEY_PATTERN, description="unique in the tenant")
    description: str = Field("", max_length=2000)
    unit: Unit = "user"
    target: Target
    variants: list[Variant] = Field(min_length=2, max_length=20)
    coverage: float = Field(1.0, ge=0, le=1)
    layer: str | None = Field(None, max_length=200, description="default: '<kind>:<name>'")
    layer_share: float = Field(1.0, gt=0, le=1, description="the slice of the layer it takes")
    metrics: list[str] = Field(default_factory=list, description="feedback metric names")
    hash_version: Literal[1, 2] = 2
    tenant: str | None = Field(None, description="default: the caller's tenant")

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[Variant]) -> list[Variant]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        given = [v.weight for v in variants]
        if any(w is not None for w in given):
            if any(w is None for w in given):
                raise ValueError("give every variant a weight, or none")
            if not valid_weights([w for w in given if w is not None], len(given)):
                raise ValueError("weights must sum to 1")
        return variants

    @model_validator(mode="after")
    def _values(self) -> ExperimentIn:
        for v in self.variants:
            if self.target.kind in ("model_group", "prompt_version"):
                if not isinstance(v.value, str) or not v.value:
                    raise ValueError(f"variant {v.name!r}: value must be a non-empty string")
            elif not isinstance(v.value, dict):
                raise ValueError(f"variant {v.name!r}: value must be an object")
        return self

    def weights(self) -> list[float]:
        """The variants' weights (equal when none were given)."""
        if self.variants[0].weight is None:
            return [1 / len(self.variants)] * len(self.variants)
        return [float(v.weight or 0) for v in self.variants]

    def layer_name(self) -> str:
        return self.layer or f"{self.target.kind}:{self.target.name}"


class ExperimentOut(BaseModel):
    """A stored experiment."""

    id: int
    tenant: str
    key: str
    description: str
    status: Status
    unit: Unit
    target: Target
    variants: list[Variant]
    coverage: float
    layer: str
    namespace: tuple[float, float]
    metrics: list[str]
    hash_version: int
    created_at: Any
    started_at: Any = None
    stopped_at: Any = None

    def spec(self) -> ExperimentSpec:
        """What assignment needs: key, variant names, weights, coverage, namespace."""
        return ExperimentSpec(
            key=self.key,
            variants=tuple(v.name for v in self.variants),
            weights=tuple(float(v.weight or 0) for v in self.variants),
            coverage=self.coverage,
            namespace=Namespace(self.layer, *self.namespace),
            hash_version=self.hash_version,
        )

    def value_of(self, variant: str) -> Any:
        """The value variant ``variant`` sets."""
        return next(v.value for v in self.variants if v.name == variant)
