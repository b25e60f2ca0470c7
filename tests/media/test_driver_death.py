"""Every process an ingest starts exits within seconds of the driver's death, however it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.media.conftest import ServedFiles, textured_jpeg

FLIGHTDECK = [sys.executable, "-m", "flightdeck", "media", "ingest"]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process on the machine."""
    found: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), fields[0])
    return found


def descendants(root: int) -> set[int]:
    """Live (not zombie) processes below ``root``."""
    table = _processes()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return {p for p in found if table[p][1] != "Z"}


def alive(pids: set[int]) -> set[int]:
    table = _processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def kill_driver_and_count_survivors(
    args: list[str], ready: Callable[[list[str]], bool]
) -> dict[int, str]:
    """Start an ingest, wait until the command lines of the processes below it are ``ready``,
    SIGKILL it, and return the processes it started that are still alive 10 seconds later."""
    driver = subprocess.Popen(
        [*FLIGHTDECK, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and driver.poll() is None:
            children = descendants(driver.pid)
            if ready([_command(pid) for pid in children]):
                break
            time.sleep(0.2)
        assert driver.poll() is None, "the ingest ended before it could be killed"
        assert ready([_command(pid) for pid in children]), children
        time.sleep(1.0)  # let the workers start on their shards
        children |= descendants(driver.pid)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 10
        while alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        return {pid: _command(pid) for pid in alive(children)}
    finally:
        for pid in alive(children):  # do not leave them behind whatever the outcome
            os.kill(pid, signal.SIGKILL)


def test_local_engine_processes_exit_when_the_driver_is_killed(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(i)) for i in range(200)]
    http_files.delay_s = 0.2  # the workers are busy fetching when the driver dies
    manifest = tmp_path / "m.csv"
    manifest.write_text("url\n" + "".join(f"{u}\n" for u in urls))
    args = [str(manifest), "--out", str(tmp_path / "s"), "--no-text-embeddings"]
    args += ["--allow-private-addresses", "--workers", "2", "--shard-size", "50"]
    args += ["--concurrency", "2"]
    # the fork server, its two workers and multiprocessing's resource tracker
    survivors = kill_driver_and_count_survivors(args, lambda commands: len(commands) >= 4)
    assert survivors == {}


@pytest.mark.slow
def test_ray_engine_processes_exit_when_the_driver_is_killed(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(i)) for i in range(200)]
    http_files.delay_s = 0.2
    manifest = tmp_path / "m.csv"
    manifest.write_text("url\n" + "".join(f"{u}\n" for u in urls))
    args = [str(manifest), "--out", str(tmp_path / "s"), "--no-text-embeddings"]
    args += ["--allow-private-addresses", "--workers", "2", "--shard-size", "50"]
    args += ["--engine", "ray"]
    # the local Ray that ray.init() starts (GCS, raylet, agents, workers), and the reaper
    # that the engine starts once ray.init() has returned
    survivors = kill_driver_and_count_survivors(
        args, lambda commands: any("flightdeck.media.reaper" in c for c in commands)
    )
    assert survivors == {}
