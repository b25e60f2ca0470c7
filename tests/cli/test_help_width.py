"""The CLI reads well at 80 columns: every command's --help fits the terminal and is never cut,
``--version`` works, ``tenants list`` shows the platform tenant, ``usage`` defaults its tenant."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in a fresh interpreter: registering every sub-command changes the CLI's module state.
HELP_OF_EVERY_COMMAND = """
import json, sys
from typer.main import get_command
from typer.testing import CliRunner
import flightdeck.cli.main as main

main.register(list(main.SUBCOMMANDS))
root = get_command(main.app)

def paths(command, prefix):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, [*prefix, name])

out = {}
for width in (80, 120):
    for path in paths(root, []):
        result = CliRunner().invoke(main.app, [*path, "--help"], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, (path, result.output)
        out[f"{width} {' '.join(path)}"] = result.output
print(json.dumps(out))
"""
CUT = re.compile(r"…|[\w,;:]\.\.\.$")


def run_cli(args: list[str], cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flightdeck", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", HELP_OF_EVERY_COMMAND], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout)
    return found


def test_every_command_has_help_at_both_widths(helps: dict[str, str]) -> None:
    names = {key.split(" ", 1)[1] for key in helps}
    # the tree was walked: groups and their commands, not only the top level
    assert {"", "usage", "tenants list", "media ingest", "collections create"} <= names
    assert len(names) > 30


@pytest.mark.parametrize("width", [80, 120])
def test_help_lines_fit_the_terminal_and_are_never_cut(helps: dict[str, str], width: int) -> None:
    too_long, cut = [], []
    for key, text in helps.items():
        if not key.startswith(f"{width} "):
            continue
        command = key.split(" ", 1)[1] or "(top)"
        too_long += [f"{command}: {line!r}" for line in text.splitlines() if len(line) > width]
        cut += [f"{command}: {line!r}" for line in text.splitlines() if CUT.search(line)]
    assert not too_long, "\n".join(too_long)
    assert not cut, "\n".join(cut)


def test_version_flag_prints_the_version(tmp_path: Path) -> None:
    from flightdeck import __version__

    done = run_cli(["--version"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"flightdeck {__version__}"


def test_tenants_list_shows_the_platform_tenant_on_a_new_store(tmp_path: Path) -> None:
    done = run_cli(["tenants", "list"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and rows[0].split("│")[1].strip() == "default"
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_usage_defaults_to_the_platform_tenant_like_other_commands(tmp_path: Path) -> None:
    done = run_cli(["usage"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "default: " in done.stdout
