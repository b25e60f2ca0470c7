"""Settings of telemetry (``[telemetry]``): traces, metrics, per-request logs.

A section of the one ``Settings`` object, kept here so ``core.settings`` stays readable. The
standard OpenTelemetry variables fill the fields the file leaves unset (``load_settings`` reads
them from the environment it is handed): ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_SERVICE_NAME``,
``OTEL_SEMCONV_STABILITY_OPT_IN`` and ``OTEL_TRACES_SAMPLER_ARG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TelemetrySettings(BaseModel):
    """``[telemetry]``: what this replica records and where it sends it."""

    model_config = ConfigDict(extra="forbid")

    metrics: bool = Field(True, description="Prometheus metrics, served on /metrics")
    logs: bool = Field(True, description="one structured JSON log line per request")
    tracing: bool = Field(
        False, description="OpenTelemetry spans; exported when otlp_endpoint is set"
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP base URL (traces go to <url>/v1/traces); "
        "default OTEL_EXPORTER_OTLP_ENDPOINT; setting it turns tracing on",
    )
    otlp_headers: dict[str, str] = Field(
        default_factory=dict, description="headers sent with every OTLP export"
    )
    sample_ratio: float = Field(1.0, ge=0, le=1, description="share of new traces recorded")
    service_name: str = Field("flightdeck", description="service.name of every span")
    semconv_opt_in: list[str] = Field(
        default_factory=list,
        description="OTEL_SEMCONV_STABILITY_OPT_IN values; 'gen_ai_latest_experimental' "
        "emits the pinned newest GenAI names instead of the older ones",
    )
    record_content: bool = Field(
        False, description="record prompt and completion text on spans (off: never recorded)"
    )
    tenant_label: bool = Field(
        False, description="add a tenant label to request metrics (small deployments only)"
    )
    metrics_address: str | None = Field(
        None,
        description="host:port of a separate /metrics listener for scrapers (no key); "
        "unset: /metrics on the main port, admin key required",
    )

    @property
    def latest_genai(self) -> bool:
        """Whether the newest (pinned) GenAI convention names are emitted."""
        return "gen_ai_latest_experimental" in self.semconv_opt_in

    @property
    def tracing_on(self) -> bool:
        return self.tracing or self.otlp_endpoint is not None


def otel_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """``[telemetry]`` values taken from the standard ``OTEL_*`` variables in ``environ``."""
    out: dict[str, Any] = {}
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if endpoint:
        out["otlp_endpoint"] = endpoint.removesuffix("/v1/traces")
    if environ.get("OTEL_SERVICE_NAME"):
        out["service_name"] = environ["OTEL_SERVICE_NAME"]
    opt_in = environ.get("OTEL_SEMCONV_STABILITY_OPT_IN")
    if opt_in:
        out["semconv_opt_in"] = [v.strip() for v in opt_in.split(",") if v.strip()]
    ratio = environ.get("OTEL_TRACES_SAMPLER_ARG")
    if ratio:
        out["sample_ratio"] = ratio
    return out
