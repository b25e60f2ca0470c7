"""deploy/k8s: each overlay rendered by ``kubectl kustomize`` (the kustomize inside kubectl,
from 1.20 on), validated against the Kubernetes 1.25 and 1.37 schemas, the ServiceMonitor
against the Prometheus Operator's, and checked for what an upgrade-safe deployment needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from flightdeck.core.settings import load_settings
from tests.deploy_support.modules import importorfail

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ["dev", "prod"]
VERSIONS = ["1.25.0", "1.37.0"]  # the oldest we support, the newest kubernetes-validate knows
SECRET_NAMES = ("URL", "KEY", "TOKEN", "PASSWORD", "SECRET")
PLACEHOLDERS = {  # what the Secret `flightdeck` holds in a real cluster
    "store-url": "postgresql+asyncpg://flightdeck:pw@db.example:5432/flightdeck",
    "redis-url": "redis://:pw@redis.example:6379/0",
    "openai-api-key": "sk-example",
}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("kubectl is missing on CI: make tools-kubectl")
        pytest.skip("kubectl is not installed (make tools-kubectl)")
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(
    rendered: list[dict[str, Any]], version: str
) -> None:
    for doc in rendered:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked against its own schema below
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_service_monitor_is_valid_against_the_prometheus_operator_schema(
    rendered: list[dict[str, Any]],
) -> None:
    models = importorfail("cloudcoil.models.prometheus_operator.v1")
    monitor = one(rendered, "ServiceMonitor")
    parsed = models.ServiceMonitor.model_validate(monitor)
    # The models ignore unknown keys; nothing may be lost on the way through them.
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == monitor
    service = one(rendered, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]
    }


def test_no_secret_is_written_and_no_database_is_bundled(rendered: list[dict[str, Any]]) -> None:
    kinds = {doc["kind"] for doc in rendered}
    assert "Secret" not in kinds and "StatefulSet" not in kinds
    assert kinds >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "ConfigMap",
    }
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    for container in pod["initContainers"] + pod["containers"]:
        assert "postgres" not in container["image"] and "redis" not in container["image"]
        for var in container.get("env", []):
            if any(word in var["name"] for word in SECRET_NAMES):
                assert "value" not in var, var["name"]
                assert var["valueFrom"]["secretKeyRef"]["name"] == "flightdeck", var["name"]


def test_pods_migrate_first_probe_health_and_drain_longer_than_a_stream(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    deployment = one(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    (server,) = pod["containers"]
    assert migrate["args"] == ["migrate"] and server["args"] == ["serve"]
    assert migrate["image"] == server["image"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    settings = pod_settings(rendered, tmp_path)
    pre_stop = server["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert (
        pod["terminationGracePeriodSeconds"]
        > int(pre_stop[1]) + settings.server.shutdown_grace_seconds
    )


def test_autoscaler_budget_and_policy_select_the_pods(rendered: list[dict[str, Any]]) -> None:
    deployment = one(rendered, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    target = one(rendered, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    for kind, path in [
        ("PodDisruptionBudget", ["spec", "selector", "matchLabels"]),
        ("NetworkPolicy", ["spec", "podSelector", "matchLabels"]),
        ("Service", ["spec", "selector"]),
    ]:
        selector: Any = one(rendered, kind)
        for key in path:
            selector = selector[key]
        assert selector.items() <= labels.items(), kind


def pod_settings(rendered: list[dict[str, Any]], folder: Path) -> Any:
    """The configuration a pod starts with: the ConfigMap's file, then its environment (the
    Secret's keys filled with placeholders)."""
    config = one(rendered, "ConfigMap")
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    assert config["metadata"]["name"] in {
        v.get("configMap", {}).get("name") for v in pod["volumes"]
    }
    env = {}
    for var in pod["containers"][0]["env"]:
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = PLACEHOLDERS[ref["key"]] if ref else var["value"]
    path = folder / "flightdeck.toml"
    path.write_text(config["data"]["flightdeck.toml"])
    return load_settings(path, env)


def test_the_configuration_is_valid_by_its_schema_and_by_flightdeck(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    schema = json.loads((ROOT / "deploy" / "flightdeck.schema.json").read_text())
    text = one(rendered, "ConfigMap")["data"]["flightdeck.toml"]
    jsonschema.Draft202012Validator(schema).validate(tomllib.loads(text))
    settings = pod_settings(rendered, tmp_path)
    assert settings.store_url.startswith("postgresql+asyncpg://")  # external, by URL
    assert settings.limits.backend == "redis"  # limits shared by every pod
    assert settings.ledger.sync_before_reply
    assert settings.server.host == "0.0.0.0"


def test_the_schema_refuses_what_flightdeck_refuses() -> None:
    schema = json.loads((ROOT / "deploy" / "flightdeck.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"server": {"port": 70000}})
    assert not validator.is_valid({"server": {"prot": 8080}})
    assert not validator.is_valid({"models": [{"provider": "openai"}]})  # no name
