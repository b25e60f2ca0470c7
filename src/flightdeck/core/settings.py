"""One validated settings object: a TOML file, then ``FLIGHTDECK_*`` environment overrides.

Nothing here reads the environment by itself: the entry point passes ``os.environ`` in, so tests
and embedders build settings from plain data. ``FLIGHTDECK_SERVER__PORT=9090`` overrides
``[server] port``; a value that parses as JSON (``FLIGHTDECK_MODELS='[...]'``) is taken as JSON.
"""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from flightdeck.core.cache_settings import CacheSettings
from flightdeck.core.console_settings import ConsoleSettings
from flightdeck.core.errors import ConfigError
from flightdeck.core.telemetry_settings import TelemetrySettings, otel_environment
from flightdeck.core.tenancy_settings import LedgerSettings, LimitsSettings, OAuthSettings

ENV_PREFIX = "FLIGHTDECK_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The ``[server]`` section: where to listen and request bounds."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(
        8 * 1024 * 1024, gt=0, description="larger request bodies get 413, on every route"
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="a request body not complete this long after its request began: 408"
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="a new connection or request whose headers take longer is closed (slowloris)",
    )
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="request line and headers larger than this get 431"
    )
    max_header_count: int = Field(100, ge=8, description="more request headers than this: 431")
    access_log: bool = False
    workers: int = Field(
        1, ge=1, le=256, description="processes serving the port; one per core on one machine"
    )
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="after SIGTERM, how long requests and streams may take to finish"
    )
    keep_alive_seconds: int = Field(
        5, ge=1, description="idle client connections are closed after this; above the LB's"
    )


class ModelDeployment(_Section):
    """One upstream deployment. Several with the same ``name`` form a group."""

    name: str = Field(min_length=1)
    provider: str = "openai"
    base_url: str | None = None
    model: str | None = Field(None, description="the upstream's model id; defaults to name")
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    weight: float = Field(1.0, gt=0)
    fallbacks: list[str] = Field(default_factory=list)
    id: str | None = Field(None, description="a stable name for this deployment in logs/metrics")
    timeout_seconds: float | None = Field(None, gt=0, description="per-attempt deadline")
    headers: dict[str, str] = Field(default_factory=dict)
    # Azure OpenAI
    api_version: str | None = None
    deployment: str | None = None
    auth: Literal["api-key", "bearer"] = "api-key"
    # Provider-specific options (local model paths, ...).
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def upstream_model(self) -> str:
        return self.model or self.name


class RouterSettings(_Section):
    """The ``[router]`` section: retries, backoff, circuits and timeouts of model calls."""

    max_retries: int = Field(2, ge=0, description="extra attempts inside a group")
    backoff_base_seconds: float = Field(0.05, ge=0)
    backoff_max_seconds: float = Field(2.0, ge=0)
    max_retry_after_seconds: float = Field(10.0, ge=0, description="longest Retry-After honoured")
    attempt_timeout_seconds: float = Field(60.0, gt=0)
    total_timeout_seconds: float = Field(120.0, gt=0)
    stream_idle_timeout_seconds: float = Field(60.0, gt=0)
    cooldown_failures: int = Field(3, ge=1, description="consecutive failures that open a circuit")
    cooldown_seconds: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _deadlines_ordered(self) -> RouterSettings:
        if self.attempt_timeout_seconds > self.total_timeout_seconds:
            raise ValueError("attempt_timeout_seconds must not exceed total_timeout_seconds")
        return self


class StoreSettings(_Section):
    """The ``[store]`` section: the database URL."""

    url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite under home")


class AuthSettings(_Section):
    """The ``[auth]`` section: key caching, OAuth issuers and the platform tenant."""

    key_cache_seconds: float = Field(5.0, ge=0, description="how long a key lookup is cached")
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    platform_tenant: str = Field("default", description="its admins manage every tenant")


class AssistantModelSettings(_Section):
    """Assistant options for one model group."""

    token_budget: int = Field(6000, gt=0, description="prompt tokens the page passages may use")
    prompt: str = Field("grounded-v1", min_length=1, description="prompt template version")


class AssistantSettings(_Section):
    """The browser assistant: input limits, context budgets and prompt versions."""

    max_pages: int = Field(8, ge=1, description="tabs per request")
    max_page_bytes: int = Field(3 * 1024 * 1024, gt=0, description="html/text/pdf per page")
    max_question_chars: int = Field(4000, gt=0)
    token_budget: int = Field(6000, gt=0, description="default passage budget per request")
    prompt: str = Field("grounded-v1", min_length=1, description="default template version")
    whole_page_tokens: int = Field(1500, gt=0, description="pages this short go in whole")
    dense_candidates: int = Field(24, ge=0, description="BM25 top-k re-scored by embeddings")
    embeddings: bool = Field(True, description="hybrid ranking with local MiniLM embeddings")
    multilingual_embeddings: bool = Field(
        True, description="pages not in English: hybrid ranking with the multilingual encoder"
    )
    embed_before_answer: bool = Field(
        False, description="encode a new page's candidates before answering (else BM25 first)"
    )
    ocr: bool = Field(True, description="OCR PDF pages without a text layer (needs tesseract)")
    ocr_command: str = Field("tesseract", min_length=1, description="the Tesseract program")
    ocr_languages: str = Field(
        "eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$", description="Tesseract languages: eng+deu"
    )
    ocr_max_pages: int = Field(10, ge=0, description="scanned pages read by OCR per PDF")
    ocr_timeout_seconds: float = Field(60.0, gt=0, description="per scanned page")
    fetch_urls: bool = Field(False, description="fetch pages sent with only a url (public only)")
    fetch_timeout_seconds: float = Field(10.0, gt=0)
    models: dict[str, AssistantModelSettings] = Field(default_factory=dict)

    def for_model(self, group: str) -> AssistantModelSettings:
        return self.models.get(group) or AssistantModelSettings(
            token_budget=self.token_budget, prompt=self.prompt
        )


class SearchSettings(_Section):
    """The search plane: where collections may point, and how their indexes are built."""

    roots: list[str] = Field(
        default_factory=list,
        description="folders or object-store prefixes collections may use; default home/media",
    )
    exact_max_documents: int = Field(
        20_000, ge=0, description="stores up to this size get an exact index, larger ones HNSW"
    )
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW neighbours per node")
    hnsw_ef_search: int = Field(128, ge=1, description="HNSW candidates per query")
    manifest_check_seconds: float = Field(
        2.0, ge=0, description="how often a loaded index re-reads its store's manifest"
    )
    max_loaded_collections: int = Field(8, ge=1, description="indexes kept in memory (LRU)")
    thumbnail_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="thumbnail columns kept in memory (LRU)"
    )
    clip_model: str | None = Field(
        None, description="a Hugging Face CLIP folder: text-to-image search on CLIP stores"
    )
    min_score: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="relevance floor: hits whose best cosine is lower are not returned "
        "(0.3: measured in bench/search/relevance_floor.py); a request's min_score overrides it",
    )


class ResponsesSettings(_Section):
    """Stored responses of the OpenAI Responses API (``store: true``, the API's default)."""

    stored_ttl_seconds: float = Field(
        30 * 86400, gt=0, description="how long a stored response (and its conversation) is kept"
    )


class Settings(_Section):
    """Every setting: one validated object, built at the entry point and passed down."""

    home: Path = Path(".flightdeck")
    server: ServerSettings = Field(default_factory=ServerSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    models: list[ModelDeployment] = Field(default_factory=list)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @model_validator(mode="after")
    def _fallbacks_known(self) -> Settings:
        names = {m.name for m in self.models}
        for i, m in enumerate(self.models):
            for fb in m.fallbacks:
                if fb not in names:
                    raise ValueError(f"models[{i}].fallbacks: unknown model name {fb!r}")
                if fb == m.name:
                    raise ValueError(f"models[{i}].fallbacks: {fb!r} falls back to itself")
        return self

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite+aiosqlite:///{self.home / 'flightdeck.db'}"

    @property
    def search_roots(self) -> list[str]:
        return self.search.roots or [str(self.home / "media")]

    def model_names(self) -> list[str]:
        return list(dict.fromkeys(m.name for m in self.models))


def settings_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the configuration file, for editors and deploy checks."""
    schema = Settings.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Flightdeck configuration (flightdeck.toml)"
    return schema


def default_local_models() -> list[dict[str, Any]]:
    """The models ``flightdeck up`` serves when nothing else is configured."""
    return [
        {"name": "local/minilm", "provider": "local-embeddings"},
        {"name": "local/extractive", "provider": "local-extractive"},
    ]


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from ``defaults``, then the TOML file, then ``FLIGHTDECK_*`` variables.

    Raises ConfigError with one line that names the key and the problem.
    """
    environ = environ or {}
    data: dict[str, Any] = dict(defaults or {})
    otel = otel_environment(environ)
    if otel:  # the standard OTEL_* variables, below the file and FLIGHTDECK_* overrides
        data = _deep_merge(data, {"telemetry": otel})
    source = "defaults"
    if path is not None:
        source = str(path)
        data = _deep_merge(data, _read_toml(path))
    overrides = _env_overrides(environ)
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None
    _resolve_secrets(settings, environ, source)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX:
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        if parts[0] not in Settings.model_fields:
            continue  # other FLIGHTDECK_* variables (FLIGHTDECK_CONFIG, ...) are not settings
        value: Any = raw
        with contextlib.suppress(ValueError):
            value = json.loads(raw)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def _resolve_secrets(settings: Settings, environ: Mapping[str, str], source: str) -> None:
    for i, m in enumerate(settings.models):
        if m.api_key is None and m.api_key_env:
            value = environ.get(m.api_key_env)
            if not value:
                raise ConfigError(
                    f"{source}: models[{i}].api_key_env: environment variable "
                    f"{m.api_key_env} is not set"
                )
            m.api_key = SecretStr(value)
