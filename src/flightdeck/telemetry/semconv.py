"""Every name Flightdeck's telemetry emits: span names and kinds, attributes, metric names,
units and histogram bucket boundaries. Nothing outside this module spells one.

GenAI names follow ``open-telemetry/semantic-conventions-genai`` pinned at commit
``PINNED_COMMIT`` (``model/gen-ai/{spans,metrics,token-metrics,registry}.yaml``), with the
renames of genai#521 on top (the inference span becomes ``gen_ai.client.inference``;
``gen_ai.client.inference.duration`` and ``gen_ai.client.inference.time_to_first_chunk`` take
the inference case over from ``gen_ai.client.operation.*``, which keeps embeddings).
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` selects those newest names
(``LATEST``); without it the older names today's dashboards query are emitted (``DEFAULT``:
``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` with
``gen_ai.token.type``, semantic-conventions v1.37).

Prometheus names are the OpenTelemetry ones translated the usual way: dots to underscores, the
unit as a suffix (``_seconds``; none for ``{token}``), ``_total`` on counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opentelemetry.trace import SpanKind

PINNED_REPO = "open-telemetry/semantic-conventions-genai"
PINNED_COMMIT = "9b2ce3b4e6b351a44025a289eefc1a6f6108a938"
LATEST_OPT_IN = "gen_ai_latest_experimental"

# Bucket boundaries the conventions advise (ExplicitBucketBoundaries).
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
FIRST_CHUNK_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
HTTP_DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

# Attributes (OpenTelemetry registry names).
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"  # opt-in (telemetry.record_content)
OUTPUT_MESSAGES = "gen_ai.output.messages"  # opt-in (telemetry.record_content)
TOKEN_TYPE = "gen_ai.token.type"
TOKEN_MODALITY = "gen_ai.token.modality"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_STATUS = "http.response.status_code"
URL_PATH = "url.path"
URL_SCHEME = "url.scheme"
# Flightdeck's own (no standard name exists for these).
MODEL_GROUP = "flightdeck.model_group"
DEPLOYMENT = "flightdeck.deployment"
ATTEMPT = "flightdeck.attempt"
TENANT = "flightdeck.tenant"
STAGE = "flightdeck.stage"


@dataclass(frozen=True, slots=True)
class SpanSpec:
    """One kind of span: how its name is built, its kind, every attribute it may carry."""

    type: str
    name: str  # a format string over attribute values, or the literal name
    kind: SpanKind
    attributes: frozenset[str]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One OpenTelemetry metric and its Prometheus rendering."""

    name: str
    instrument: Literal["histogram", "counter"]
    unit: str
    description: str
    attributes: tuple[str, ...]
    buckets: tuple[float, ...] = ()

    @property
    def prometheus_name(self) -> str:
        base = self.name.replace(".", "_")
        if self.unit == "s":
            base += "_seconds"
        return base + "_total" if self.instrument == "counter" else base

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        return tuple(a.replace(".", "_") for a in self.attributes)


SERVER_SPAN = SpanSpec(
    "http.server",
    "{http.request.method} {http.route}",
    SpanKind.SERVER,
    frozenset({HTTP_METHOD, HTTP_ROUTE, HTTP_STATUS, URL_PATH, URL_SCHEME, ERROR_TYPE, TENANT}),
)
_INFERENCE_ATTRIBUTES = frozenset(
    {
        OPERATION, PROVIDER, REQUEST_MODEL, REQUEST_STREAM, REQUEST_MAX_TOKENS, RESPONSE_MODEL,
        RESPONSE_ID, FINISH_REASONS, INPUT_TOKENS, OUTPUT_TOKENS, CACHE_READ_TOKENS,
        CACHE_WRITE_TOKENS, REASONING_TOKENS, SERVER_ADDRESS, SERVER_PORT, ERROR_TYPE,
        MODEL_GROUP, DEPLOYMENT, ATTEMPT, INPUT_MESSAGES, OUTPUT_MESSAGES,
    }
)  # fmt: skip
STAGE_SPAN = SpanSpec("flightdeck.stage", "{flightdeck.stage}", SpanKind.INTERNAL, frozenset())

# Stages of the planes that get an INTERNAL span each (span name = the stage name).
STAGES = frozenset(
    {
        "assistant.extract", "assistant.rank", "assistant.budget", "assistant.cite",
        "search.encode", "search.ann", "search.hydrate",
    }
)  # fmt: skip

_BASE_METRIC_ATTRIBUTES = (OPERATION, PROVIDER, REQUEST_MODEL, SERVER_ADDRESS, SERVER_PORT)


@dataclass(frozen=True, slots=True)
class Conventions:
    """The names one ``OTEL_SEMCONV_STABILITY_OPT_IN`` mode emits."""

    mode: Literal["default", "latest"]
    inference_span: SpanSpec
    chat_duration: MetricSpec
    embeddings_duration: MetricSpec
    first_chunk: MetricSpec | None
    token_usage: MetricSpec | None  # one histogram with gen_ai.token.type (default mode)
    token_counters: dict[str, MetricSpec]  # usage kind -> counter (latest mode)
    token_histograms: dict[str, MetricSpec]  # "input"/"output" -> histogram (latest mode)

    def metrics(self) -> list[MetricSpec]:
        """Every GenAI metric this mode emits, each once."""
        specs = [self.chat_duration, self.embeddings_duration, self.first_chunk, self.token_usage]
        specs += [*self.token_counters.values(), *self.token_histograms.values()]
        unique = {s.name: s for s in specs if s is not None}
        return list(unique.values())


_OPERATION_DURATION = MetricSpec(
    "gen_ai.client.operation.duration",
    "histogram",
    "s",
    "GenAI operation duration.",
    (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL, ERROR_TYPE),
    DURATION_BUCKETS,
)

DEFAULT = Conventions(
    mode="default",
    inference_span=SpanSpec(
        "gen_ai.inference.client",
        "{gen_ai.operation.name} {gen_ai.request.model}",
        SpanKind.CLIENT,
        _INFERENCE_ATTRIBUTES,
    ),
    chat_duration=_OPERATION_DURATION,
    embeddings_duration=_OPERATION_DURATION,
    first_chunk=None,
    token_usage=MetricSpec(
        "gen_ai.client.token.usage",
        "histogram",
        "{token}",
        "Number of input and output tokens used.",
        (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL, TOKEN_TYPE),
        TOKEN_BUCKETS,
    ),
    token_counters={},
    token_histograms={},
)


def _usage_counter(name: str, description: str) -> MetricSpec:
    return MetricSpec(
        f"gen_ai.client.inference.usage.{name}",
        "counter",
        "{token}",
        description,
        (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL, TOKEN_MODALITY),
    )


def _operation_tokens(name: str, description: str) -> MetricSpec:
    return MetricSpec(
        f"gen_ai.client.inference.operation.{name}",
        "histogram",
        "{token}",
        description,
        (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL),
        TOKEN_BUCKETS,
    )


LATEST = Conventions(
    mode="latest",
    inference_span=SpanSpec(
        "gen_ai.client.inference",
        "{gen_ai.operation.name} {gen_ai.request.model}",
        SpanKind.CLIENT,
        _INFERENCE_ATTRIBUTES | {TIME_TO_FIRST_CHUNK},
    ),
    chat_duration=MetricSpec(
        "gen_ai.client.inference.duration",
        "histogram",
        "s",
        "GenAI inference duration.",
        (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL, ERROR_TYPE),
        DURATION_BUCKETS,
    ),
    embeddings_duration=_OPERATION_DURATION,
    first_chunk=MetricSpec(
        "gen_ai.client.inference.time_to_first_chunk",
        "histogram",
        "s",
        "Time to receive the first chunk of a streamed inference.",
        (*_BASE_METRIC_ATTRIBUTES, RESPONSE_MODEL),
        FIRST_CHUNK_BUCKETS,
    ),
    token_usage=None,
    token_counters={
        "input": _usage_counter("input_tokens", "Input tokens used, including cached ones."),
        "output": _usage_counter("output_tokens", "Output tokens used, including reasoning."),
        "cache_read": _usage_counter(
            "cache_read.input_tokens", "Input tokens served from a provider-managed cache."
        ),
        "cache_write": _usage_counter(
            "cache_write.input_tokens", "Input tokens written to a provider-managed cache."
        ),
        "reasoning": _usage_counter("reasoning.output_tokens", "Output tokens used for reasoning."),
    },
    token_histograms={
        "input": _operation_tokens("input_tokens", "Input tokens per inference operation."),
        "output": _operation_tokens("output_tokens", "Output tokens per inference operation."),
    },
)


def conventions(opt_in: list[str]) -> Conventions:
    """The names to emit for ``OTEL_SEMCONV_STABILITY_OPT_IN`` values ``opt_in``."""
    return LATEST if LATEST_OPT_IN in opt_in else DEFAULT


# Flightdeck's own Prometheus metrics (no convention covers them): name -> (type, help, labels,
# buckets). Base units; counters end in _total.
HTTP_REQUEST_DURATION = MetricSpec(
    "http.server.request.duration",
    "histogram",
    "s",
    "Duration of HTTP server requests.",
    (HTTP_METHOD, HTTP_ROUTE, HTTP_STATUS),
    HTTP_DURATION_BUCKETS,
)
REQUESTS = "flightdeck_requests_total"
REQUEST_LABELS = ("model_group", "deployment", "status", "cache")
TIME_TO_FIRST_TOKEN = "flightdeck_time_to_first_token_seconds"
ATTEMPTS = "flightdeck_upstream_attempts_total"
RETRIES = "flightdeck_retries_total"
FALLBACKS = "flightdeck_fallbacks_total"
CIRCUIT_STATE = "flightdeck_circuit_state"
CIRCUIT_STATES = ("closed", "half_open", "open")
LIMITER_REJECTIONS = "flightdeck_limiter_rejections_total"
CACHE_RESULTS = "flightdeck_cache_results_total"
CACHE_RESULT_VALUES = ("hit", "semantic-hit", "miss", "bypass", "refresh")  # cache.CacheResult
LEDGER_SPOOL_DEPTH = "flightdeck_ledger_spool_records"
LEDGER_WRITE_LAG = "flightdeck_ledger_write_lag_seconds"
STAGE_DURATION = "flightdeck_stage_duration_seconds"
MEDIA_DOCUMENTS = "flightdeck_media_documents_total"
MEDIA_FAILURES = "flightdeck_media_failures_total"
MEDIA_RATE = "flightdeck_media_documents_per_second"
