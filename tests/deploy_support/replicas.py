"""Flightdeck replicas as real processes (``python -m flightdeck serve``) sharing a store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flightdeck.testing.server import free_port


def replica_config(
    path: Path,
    *,
    home: Path,
    store_url: str,
    redis_url: str,
    prefix: str,
    upstream_url: str,
    extra: str = "",
) -> Path:
    """A replica's TOML: shared store and Redis limits, a durable ledger, one model ``m``."""
    path.write_text(
        f"""
home = "{home}"
[server]
shutdown_grace_seconds = 30
[store]
url = "{store_url}"
[limits]
backend = "redis"
redis_url = "{redis_url}"
key_prefix = "{prefix}"
redis_timeout_seconds = 5.0
[ledger]
flush_interval_seconds = 0.2
sync_before_reply = true
[limits.prices.m]
input = 100.0
output = 200.0
[[models]]
name = "m"
base_url = "{upstream_url}"
{extra}
"""
    )
    return path


class Replica:
    """One ``flightdeck serve`` process; ``start``/``stop``/``kill`` keep its port and home."""

    def __init__(self, name: str, config: Path, log_dir: Path) -> None:
        self.name = name
        self.config = config
        self.port = free_port()
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [sys.executable, "-m", "flightdeck", "serve", "--config", str(self.config)]
        argv += ["--port", str(self.port)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except OSError:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.tail()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start: {self.tail()}") from None
                time.sleep(0.2)

    def stop(self, timeout: float = 60) -> bool:
        """SIGTERM, as an orchestrator sends it; waits for the exit. True when the process went
        through its graceful shutdown (uvicorn then re-raises the signal: status -SIGTERM)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code in (0, -signal.SIGTERM) and "Application shutdown complete." in self.tail(5)

    def kill(self) -> None:
        """``kill -9``: no shutdown at all."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
