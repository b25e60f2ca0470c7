"""Settings of the multi-tenant layer: OAuth2 issuers, limits and prices, the usage ledger.

They are sections of the one ``Settings`` object (``[auth.oauth]``, ``[limits]``, ``[ledger]``);
they live here so ``core.settings`` stays readable.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


ANY_TENANT = "*"
# The shape of a tenant name (auth/tenants.py holds the full rule, reserved names included).
TENANT_NAME_SHAPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OAuthIssuer(_Section):
    """One trusted OAuth2 authorization server whose RFC 9068 access tokens we accept."""

    issuer: str = Field(min_length=1, description="the exact `iss` value")
    jwks_url: str = Field(description="https (http only on loopback); never taken from a token")
    audience: str = Field(min_length=1, description="the `aud` value tokens must carry")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    tenant_claim: str = "tid"
    role_claim: str = "roles"
    role_map: dict[str, str] = Field(
        default_factory=dict, description="issuer role name -> admin|member|viewer"
    )
    default_role: Literal["admin", "member", "viewer"] | None = None
    tenants: list[str] | None = Field(
        None,
        description=(
            "tenants whose name this issuer's tokens may carry; ['*'] for every tenant; "
            "required when several issuers are configured (one issuer alone: every tenant)"
        ),
    )
    platform_admin: bool = Field(
        False, description="trust this issuer's admin role claim in the platform tenant"
    )
    provision_tenants: bool = Field(
        False, description="create a tenant that a valid token names and that does not exist"
    )

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for name in value:
            if name != ANY_TENANT and not TENANT_NAME_SHAPE.fullmatch(name):
                raise ValueError(f"{name!r} is not a tenant name (or '*' for every tenant)")
        return value

    def may_speak_for(self, tenant: str) -> bool:
        """Whether this issuer's tokens may name ``tenant`` (its ``tenants`` binding)."""
        allowed = self.tenants if self.tenants is not None else [ANY_TENANT]
        return ANY_TENANT in allowed or tenant in allowed

    @field_validator("jwks_url")
    @classmethod
    def _https_or_loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
            return value
        raise ValueError("jwks_url must be an https URL (http is allowed only on loopback)")

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        allowed = {
            "RS256",
            "RS384",
            "RS512",
            "PS256",
            "PS384",
            "PS512",
            "ES256",
            "ES384",
            "ES512",
            "EdDSA",
        }
        for alg in value:
            if alg not in allowed:
                raise ValueError(f"algorithm {alg!r} is not allowed; use one of {sorted(allowed)}")
        return value

    @field_validator("role_map")
    @classmethod
    def _roles_known(cls, value: dict[str, str]) -> dict[str, str]:
        for name, role in value.items():
            if role not in ("admin", "member", "viewer"):
                raise ValueError(f"role_map[{name!r}]: {role!r} is not admin, member or viewer")
        return value


class OAuthSettings(_Section):
    """The ``[auth.oauth]`` section: trusted issuers and token checks."""

    issuers: list[OAuthIssuer] = Field(default_factory=list)
    leeway_seconds: float = Field(30.0, ge=0, le=60, description="clock skew allowed on exp/nbf")
    jwks_cache_seconds: float = Field(300.0, gt=0, description="how long a fetched JWKS is used")
    jwks_min_refresh_seconds: float = Field(
        10.0, ge=0, description="least time between two fetches of one JWKS (unknown kid)"
    )
    jwks_timeout_seconds: float = Field(5.0, gt=0)
    legacy_issuer: str | None = Field(
        None,
        description=(
            "the issuer of users and conversations stored before identities were bound to "
            "issuers; default: the first issuer listed"
        ),
    )

    @model_validator(mode="after")
    def _issuers_unique(self) -> OAuthSettings:
        seen = set()
        for i, issuer in enumerate(self.issuers):
            if issuer.issuer in seen:
                raise ValueError(f"issuers[{i}].issuer: {issuer.issuer!r} is listed twice")
            seen.add(issuer.issuer)
            if len(self.issuers) > 1 and issuer.tenants is None:
                raise ValueError(
                    f"issuers[{i}].tenants: with several issuers, each must list the tenants "
                    "it may speak for (['*'] for every tenant)"
                )
        if self.legacy_issuer is not None and self.legacy_issuer not in seen:
            raise ValueError(f"legacy_issuer: {self.legacy_issuer!r} is not a configured issuer")
        return self

    def issuer(self, name: str) -> OAuthIssuer | None:
        """The configured issuer whose ``iss`` is ``name``."""
        return next((i for i in self.issuers if i.issuer == name), None)

    @property
    def adopting_issuer(self) -> str | None:
        """Who owns identities stored before issuer binding: ``legacy_issuer``, else the first."""
        if self.legacy_issuer is not None:
            return self.legacy_issuer
        return self.issuers[0].issuer if self.issuers else None


class LimitRule(_Section):
    """Limits of one scope (a key or a tenant). ``None`` means unlimited."""

    requests_per_minute: int | None = Field(None, ge=0)
    tokens_per_minute: int | None = Field(None, ge=0)
    concurrent_requests: int | None = Field(None, ge=0)
    monthly_budget: float | None = Field(None, ge=0, description="in the price table's currency")


class ModelPrice(_Section):
    """Price of one model group per million tokens, by kind of token.

    Input tokens are priced ``input``, except those read from a prompt cache (``cached_input``)
    and those written to one (``cache_write``); output tokens ``output``, except reasoning
    tokens (``reasoning``). Each unset price falls back to ``input`` or ``output``.
    """

    input: float = Field(0.0, ge=0)
    output: float = Field(0.0, ge=0)
    cached_input: float | None = Field(None, ge=0, description="cache reads; default: input")
    cache_write: float | None = Field(None, ge=0, description="cache writes; default: input")
    reasoning: float | None = Field(None, ge=0, description="reasoning tokens; default: output")


class LimitsSettings(_Section):
    """The ``[limits]`` section: the limits backend and default limits."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "fd:lim:"
    redis_timeout_seconds: float = Field(1.0, gt=0, description="per Redis call")
    outage_policy: Literal["local", "allow", "deny"] = Field(
        "local", description="what to do while Redis is unreachable"
    )
    local_fraction: float = Field(
        0.5, gt=0, le=1, description="share of each global limit a replica enforces alone"
    )
    probe_seconds: float = Field(1.0, gt=0, description="how often an unreachable Redis is tried")
    lease_seconds: float = Field(
        900.0, gt=0, description="a concurrency slot not released by then is freed"
    )
    policy_cache_seconds: float = Field(5.0, ge=0, description="how long stored limits are cached")
    default_key: LimitRule = Field(default_factory=LimitRule)
    default_tenant: LimitRule = Field(default_factory=LimitRule)
    default_user: LimitRule = Field(
        default_factory=LimitRule, description="limits of each OAuth user (a token, no API key)"
    )
    max_output_tokens: int = Field(
        131_072,
        ge=1,
        le=10_000_000,
        description="most max_tokens / max_completion_tokens / max_output_tokens a request may ask",
    )
    max_choices: int = Field(16, ge=1, le=128, description="most 'n' (choices) a request may ask")
    currency: str = "USD"
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="model group -> price")


class LedgerSettings(_Section):
    """The ``[ledger]`` section: how usage records are spooled and written."""

    enabled: bool = True
    flush_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="most a kill -9 can lose; spool is fsynced this often"
    )
    batch_size: int = Field(500, ge=1, le=50_000)
    sync_before_reply: bool = Field(
        False, description="a reply waits until its record is fsynced: kill -9 loses no reply"
    )
    spool_dir: Path | None = Field(None, description="default: <home>/ledger-spool")
