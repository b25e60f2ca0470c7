"""The media plane on a real Ray cluster: a head and a worker node, each a ``ray start``
process of its own on this machine, run ``media ingest --engine ray --address ...`` and write
exactly what the local engine writes."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightdeck.mediastore.store import MediaStore
from flightdeck.testing.server import free_port
from tests.media.conftest import textured_jpeg

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))


def ray_environment(token: str) -> dict[str, str]:
    """Our own cluster token: Ray 2.60 turns token authentication on by itself when a token
    file exists in ~/.ray (another Ray on the machine may have written it), so every process
    of this cluster (nodes and driver) is given the same token explicitly."""
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}


class RayNode:
    """``ray start --block``: the node lives as long as this process; SIGTERM stops it and
    everything it started (never ``ray stop``, which would stop every Ray on the machine)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port"]
        ports += ["--dashboard-agent-grpc-port", "--runtime-env-agent-port"]
        ports += ["--metrics-export-port"]
        argv = [RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args]
        for option in ports:
            argv += [option, str(free_port())]
        argv += ["--object-store-memory", str(100 * 1024 * 1024)]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, to clean up after it
            env=env,
        )
        self.output: list[str] = []

    def wait_started(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "Ray runtime started" in line:
                return
        raise RuntimeError("ray start failed:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):  # leftovers, in its process group only
            os.killpg(self.proc.pid, signal.SIGKILL)


def start_node(nodes: list[RayNode], env: dict[str, str], *args: str) -> None:
    """Start a node (appended to ``nodes``), once more if Ray's fixed 30 s wait for its raylet
    to register ran out (seen on a machine loaded by other jobs)."""
    for attempt in range(2):
        node = RayNode(env, *args)
        nodes.append(node)
        try:
            node.wait_started()
            return
        except RuntimeError:
            node.stop()
            nodes.remove(node)
            if attempt or "timed out during startup" not in "".join(node.output):
                raise


@pytest.fixture
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    if not Path(RAY).exists():
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{RAY} is missing on CI: pip install 'flightdeck[media]'")
        pytest.skip("Ray is not installed")
    temp = tempfile.mkdtemp(prefix="fdray", dir="/tmp")  # short: Ray's socket paths are long
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = ray_environment(secrets.token_hex(32))
    head_args = ["--head", "--port", str(port), "--node-ip-address", "127.0.0.1"]
    head_args += ["--include-dashboard", "false", "--temp-dir", temp]
    nodes: list[RayNode] = []
    try:
        start_node(nodes, env, *head_args)
        start_node(nodes, env, "--address", address, "--node-ip-address", "127.0.0.1")
        yield address, env
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(temp, ignore_errors=True)


def ingest(photos: Path, out: Path, *engine: str, env: dict[str, str] | None = None) -> None:
    argv = [sys.executable, "-m", "flightdeck", "media", "ingest", str(photos), "--out", str(out)]
    argv += ["--workers", "2", "--shard-size", "3", "--no-text-embeddings", *engine]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def test_ingest_on_a_two_node_ray_cluster_equals_the_local_engine(
    tmp_path: Path, ray_cluster: tuple[str, dict[str, str]]
) -> None:
    address, env = ray_cluster
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(7):
        (photos / f"{i}.jpg").write_bytes(textured_jpeg(300 + i))
        (photos / f"{i}.txt").write_text(f"photo number {i}")
    (photos / "copy.jpg").write_bytes(textured_jpeg(300))  # a duplicate
    ingest(photos, tmp_path / "local", "--engine", "local")
    ingest(photos, tmp_path / "ray", "--engine", "ray", "--address", address, env=env)
    local = MediaStore.open(str(tmp_path / "local")).read_all()
    on_ray = MediaStore.open(str(tmp_path / "ray")).read_all()
    assert on_ray.num_rows == 8
    assert on_ray.equals(local)
    assert on_ray.column("status").to_pylist().count("duplicate") == 1
