"""The CLI imports only the sub-command it runs: `flightdeck media ingest` and each of its
workers must not pay for the server, the assistant or the store."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
sys.argv = ["flightdeck", "media", "--help"]
from flightdeck.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ["flightdeck.server.app", "flightdeck.assistant.routes", "flightdeck.cli.admin", "uvicorn"]
print("heavy=" + ",".join(m for m in heavy if m in sys.modules))
"""


def test_media_commands_do_not_import_the_server() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == "heavy="


def test_help_still_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flightdeck", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    for name in ("up", "serve", "keys", "media", "tenants", "users", "search", "collections"):
        assert f" {name} " in out.stdout, name


FORK_SERVER_PROBE = """
import multiprocessing.forkserver, sys, types
sys.modules["flightdeck.cli.main"] = types.SimpleNamespace(main=lambda: None)  # not the command
from flightdeck.cli import main
sys.argv = ["flightdeck", "media", "ingest", "in.csv", "--out", "s", *sys.argv[1:]]
main()
print("fork-server=" + str(multiprocessing.forkserver._forkserver._forkserver_pid is not None))
"""


@pytest.mark.parametrize(
    ("args", "boots"),
    [
        ([], True),
        (["--engine", "local"], True),
        (["--engine", "ray"], False),
        (["--engine=ray"], False),
    ],
)
def test_media_ingest_boots_the_fork_server_for_the_local_engine_only(
    args: list[str], boots: bool
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", FORK_SERVER_PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == f"fork-server={boots}"
