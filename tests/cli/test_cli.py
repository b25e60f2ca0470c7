"""The ``flightdeck`` command as a user runs it: a real process, real SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_settings import EXAMPLE


def flightdeck(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flightdeck", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = flightdeck("keys", "create", "--name", "ci bot", "--role", "viewer", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("fd-") and len(key) > 40
    listed = flightdeck("keys", "list", cwd=tmp_path)
    assert "ci bot" in listed.stdout and "viewer" in listed.stdout
    assert key not in listed.stdout and key[:10] in listed.stdout  # prefix only
    db = (tmp_path / ".flightdeck" / "flightdeck.db").read_bytes()
    assert key.encode() not in db  # stored hashed
    assert flightdeck("keys", "revoke", "1", cwd=tmp_path).returncode == 0
    again = flightdeck("keys", "revoke", "1", cwd=tmp_path)
    assert again.returncode != 0 and "no live key with id 1" in again.stderr


def test_config_check_accepts_good_and_names_the_bad_key(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(EXAMPLE)
    ok = flightdeck("config", "check", str(good), cwd=tmp_path, env={"UPSTREAM_KEY": "k"})
    assert ok.returncode == 0 and "2 deployments in 2 groups" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.replace('provider = "openai"', 'provider = "openia"'))
    result = flightdeck("config", "check", str(bad), cwd=tmp_path, env={"UPSTREAM_KEY": "k"})
    assert result.returncode == 2
    assert "unknown provider 'openia'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args", [["serve", "--config", "missing.toml"], ["config", "check", "missing.toml"]]
)
def test_missing_config_file_is_one_line(tmp_path: Path, args: list[str]) -> None:
    result = flightdeck(*args, cwd=tmp_path)
    assert result.returncode == 2 and "missing.toml: file not found" in result.stderr
    assert "Traceback" not in result.stderr
