"""A reaper for the processes of a local Ray: they end within a second of the driver's death.

``ray.init()`` without an address starts a Ray of its own (GCS, raylet, agents, workers).
When the driver is killed, Ray's fate sharing ends the GCS and the raylet at once, but its
dashboard and runtime-env agents and idle workers wait about 60 s for a GCS that will not
come back. :func:`start_reaper` starts this module as a small process (standard library only)
that keeps a list of the driver's descendants, refreshed every ``REFRESH_SECONDS``, and waits
on the driver's pidfd (Linux 5.3+); when the driver exits it kills every process on the list
(and what they started since) and exits. A process is matched by pid and start time, so a reused
pid is never killed.

    python -m flightdeck.media.reaper DRIVER_PID [PID:START_TIME ...]
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys

Table = dict[int, tuple[int, str]]  # pid -> (parent pid, start time in clock ticks)
# A process started less than this before the driver dies can be missed (its parent, the
# raylet, dies with the driver and it is handed to init); a scan of /proc takes about 2 ms.
REFRESH_SECONDS = 0.25


def start_reaper() -> subprocess.Popen[bytes]:
    """Start the reaper of this process's descendants; stop it with ``terminate()``. The
    descendants of now are handed over at once, so they are reaped even if this process dies
    before the reaper has looked."""
    now = [f"{pid}:{start}" for pid, start in _below({os.getpid()}, _processes()).items()]
    return subprocess.Popen(  # noqa: S603 - this interpreter, our module, numbers
        [sys.executable, "-m", "flightdeck.media.reaper", str(os.getpid()), *now],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        # Its own process group: Ray's own reaper kills the driver's group when the driver
        # dies, which would take this one with it before it could act.
        start_new_session=True,
    )


def _processes() -> Table:
    table: Table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[19])
    return table


def _below(roots: set[int], table: Table) -> dict[int, str]:
    """Every process below ``roots`` (and the roots still alive), with its start time."""
    found: set[int] = {p for p in roots if p in table}
    frontier = set(found)
    while frontier:
        frontier = {p for p, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return {p: table[p][1] for p in found}


# A local Ray's session directory, named on the command lines of all its processes.
_SESSION = re.compile(rb"[^\s\x00=]*/session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_\d+")


def _command_line(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def ray_sessions(command_line: bytes) -> set[bytes]:
    """The Ray session directories (``.../session_<date>_<time>_<usec>_<pid>``) named on a
    ``/proc/<pid>/cmdline`` (arguments separated by NUL bytes)."""
    return set(_SESSION.findall(command_line))


def _rays(command_line: bytes, sessions: set[bytes]) -> bool:
    """A Ray program (its program or script under a ``ray/`` directory, or a ``ray::`` process
    title) naming one of ``sessions``: not, say, a ``tail`` of the session's logs."""
    program = b"\x00".join(command_line.split(b"\x00", 2)[:2])
    is_ray = b"/ray/" in program or program.startswith(b"ray::")
    return is_ray and any(session in command_line for session in sessions)


def reap(driver: int, known: dict[int, str]) -> None:
    """Follow ``driver``'s descendants (``known`` at the start: pid -> start time) until it
    exits, then kill them, and every process naming one of their Ray sessions: a worker the
    raylet started since the last look is handed to init when the raylet dies with the
    driver, out of the tree, but its command line still names the session."""
    me = os.getpid()
    sessions: set[bytes] = set()
    read: set[int] = set()  # pids whose command line was read
    try:
        handle: int | None = os.pidfd_open(driver)
    except ProcessLookupError:  # gone already: reap what was handed over
        handle = None
    except (OSError, AttributeError):  # no pidfd here: nothing to wait with
        return
    while True:
        driver_gone = handle is None or bool(select.select([handle], [], [], REFRESH_SECONDS)[0])
        table = _processes()
        known = {p: t for p, t in known.items() if table.get(p, (0, ""))[1] == t}
        # a dead driver's pid may belong to another process by now: never a root then
        known |= _below({*known} if driver_gone else {driver, *known}, table)
        known.pop(me, None)
        known.pop(driver, None)
        for pid in known.keys() - read:
            sessions |= ray_sessions(_command_line(pid))
        read |= known.keys()
        if driver_gone:
            break
    if sessions:
        for pid in _processes().keys() - {me, driver}:
            if pid not in known and _rays(_command_line(pid), sessions):
                known[pid] = ""
    for pid in known:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    handed = dict(arg.split(":", 1) for arg in sys.argv[2:])
    reap(int(sys.argv[1]), {int(pid): start for pid, start in handed.items()})
