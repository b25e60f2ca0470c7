"""``flightdeck up --workers N``: N processes on one port, one migration, one first key, and a
SIGTERM that stops them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flightdeck.auth.keys import KeyStore
from flightdeck.store.database import Store
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import free_port


def spawned_workers(parent: int) -> list[int]:
    """Child processes of ``parent`` that are multiprocessing-spawned workers."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            assert proc.poll() is None, "flightdeck up exited"
            assert time.monotonic() < deadline, "flightdeck up did not start"
            time.sleep(0.2)


async def key_count(url: str) -> int:
    store = Store(url)
    try:
        return await KeyStore(store).count()
    finally:
        await store.close()


def test_up_with_two_workers_migrates_once_and_prints_one_key(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    # `up` adds its local models unless the config names them: an upstream stands in for
    # MiniLM, so the two workers do not each load a copy of it.
    config = tmp_path / "flightdeck.toml"
    config.write_text(f'[[models]]\nname = "local/minilm"\nbase_url = "{upstream.base_url}"\n')
    port = free_port()
    argv = [sys.executable, "-m", "flightdeck", "up", "--workers", "2", "--config", str(config)]
    argv += ["--port", str(port)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        deadline = time.monotonic() + 120
        while len(workers := spawned_workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, output
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # all stopped
    assert output.count("an admin API key was created") == 1, output
    assert output.count("schema migrated") == 1, output
    assert output.count("Application shutdown complete") == 2, output
    assert 'backend = "memory" with 2 workers: each worker enforces every limit' in output
    store = f"sqlite+aiosqlite:///{tmp_path / '.flightdeck' / 'flightdeck.db'}"
    assert asyncio.run(key_count(store)) == 1
