"""deploy/compose.yaml: valid Compose, every part there, started in a safe order, no secret
written into it, and the replicas' configuration valid for Flightdeck."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flightdeck.core.settings import load_settings
from tests.deploy_support.modules import importorfail

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
EXAMPLE_ENV = {"POSTGRES_PASSWORD": "pw-example", "REDIS_PASSWORD": "rd-example"}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``, and ``$$``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    if isinstance(value, str):
        pattern = r"(?<!\$)\$\{(?P<name>\w+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}"
        return re.sub(pattern, one, value).replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def compose(env: dict[str, str] = EXAMPLE_ENV) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env)  # merge keys resolved


def test_compose_file_is_valid_compose_spec() -> None:
    spec = importorfail("compose_spec")
    parsed = spec.PyCompose.from_json(json.dumps(compose()))  # raises naming the bad key
    assert set(parsed.service_names()) == {
        "postgres",
        "redis",
        "otel-collector",
        "migrate",
        "flightdeck",
        "nginx",
    }


def test_passwords_come_from_the_environment_never_the_file() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is required"):
        compose({})
    text = COMPOSE.read_text()
    assert "pw-example" not in text and "change-me" not in text


def test_start_order_waits_for_health_and_the_migration() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, (name, target)
            if rule["condition"] == "service_healthy":
                built_here = services[target].get("build") is not None  # Dockerfile HEALTHCHECK
                assert "healthcheck" in services[target] or built_here, (name, target)
    flightdeck = services["flightdeck"]
    assert flightdeck["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["nginx"]["depends_on"]["flightdeck"]["condition"] == "service_healthy"
    assert flightdeck["deploy"]["replicas"] >= 2


def test_replicas_share_postgresql_and_redis_and_outlast_their_streams() -> None:
    services = compose()["services"]
    flightdeck = services["flightdeck"]
    env = {k: str(v) for k, v in flightdeck["environment"].items()}
    mounted = next(
        v for v in flightdeck["volumes"] if v.endswith(":/etc/flightdeck/flightdeck.toml:ro")
    )
    settings = load_settings(COMPOSE.parent / mounted.split(":")[0], env)
    assert settings.store_url.startswith("postgresql+asyncpg://flightdeck:pw-example@postgres")
    assert settings.limits.backend == "redis"
    assert settings.limits.redis_url == "redis://:rd-example@redis:6379/0"
    assert settings.ledger.sync_before_reply
    grace = int(flightdeck["stop_grace_period"].removesuffix("s"))
    assert grace > settings.server.shutdown_grace_seconds
