"""The local-Ray reaper (``media/reaper.py``) against real processes: it kills what it saw
below the driver and, once the driver is gone, the Ray programs that name one of their
sessions but left the tree (a worker whose raylet died with the driver), never anything else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flightdeck.media.reaper import ray_sessions

SESSION = "/tmp/fd-reaper-test/session_2026-11-29_22-54-14_244861_1944"
OTHER = "/tmp/fd-reaper-test/session_2026-11-29_22-54-15_000001_2000"


def sleeper(path: Path, *args: str) -> list[str]:
    """A command that sleeps, run as ``path`` (a script whose name is the program's)."""
    path.write_text("import time\ntime.sleep(120)\n")
    return [sys.executable, str(path), *args]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ray_sessions_are_read_off_a_command_line() -> None:
    line = f"python\0w.py\0--store={SESSION}/sockets/plasma_store\0--x=/tmp/ray/session_latest\0"
    assert ray_sessions(line.encode()) == {SESSION.encode()}
    assert ray_sessions(b"python\0script.py\0") == set()


def test_the_driver_s_ray_programs_go_with_it_and_nothing_else(tmp_path: Path) -> None:
    ray = tmp_path / "ray"
    ray.mkdir()
    # the driver starts a "raylet" (in its tree) that names the session
    driver_code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen({sleeper(ray / 'raylet.py', '--session_dir=' + SESSION)!r})\n"
        "time.sleep(120)\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", driver_code], start_new_session=True)
    # started apart from the tree, as a worker handed to init: Ray's, and of this session
    orphan = subprocess.Popen(sleeper(ray / "default_worker.py", f"--store={SESSION}/plasma"))
    # the same, once Ray has set its process title ("ray::IDLE" as the program name)
    idle = sleeper(tmp_path / "idle.py", f"--raylet-name={SESSION}/sockets/raylet")
    titled = subprocess.Popen(["bash", "-c", 'exec -a "ray::IDLE" "$0" "$@"', *idle])
    # not a Ray program, though it names the session; and a Ray program of another session
    tail = subprocess.Popen(sleeper(tmp_path / "tail.py", f"{SESSION}/logs/raylet.out"))
    stranger = subprocess.Popen(sleeper(ray / "default_worker.py", f"--store={OTHER}/plasma"))
    reaper = subprocess.Popen([sys.executable, "-m", "flightdeck.media.reaper", str(driver.pid)])
    try:
        deadline = time.monotonic() + 10
        raylet = None
        while raylet is None and time.monotonic() < deadline:
            children = Path(f"/proc/{driver.pid}/task/{driver.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            raylet = int(pids[0]) if pids else None
            time.sleep(0.05)
        assert raylet is not None
        time.sleep(1.0)  # the reaper has looked at the tree
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        reaper.wait(10)
        orphan.wait(10)
        titled.wait(10)
        deadline = time.monotonic() + 5
        while alive(raylet) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(raylet)
        assert orphan.returncode == titled.returncode == -signal.SIGKILL
        assert tail.poll() is None and stranger.poll() is None
    finally:
        for proc in (driver, orphan, titled, tail, stranger, reaper):
            if proc.poll() is None:
                proc.kill()
        for proc in (driver, orphan, titled, tail, stranger, reaper):
            proc.wait()
