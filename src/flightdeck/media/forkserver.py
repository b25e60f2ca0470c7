"""The fork server the local engine's workers fork from.

Kept apart from the engines, which import pyarrow and fsspec (0.3 s), so that the command line
can boot the server before importing anything else: the server's own imports then overlap the
command's.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

PRELOAD = ["flightdeck.media.stages", "flightdeck.media.engines"]


def start_workers_early() -> None:
    """Boot the fork server now, in the background: its imports (about a second) then overlap
    whatever this process does before the first shard. Safe to call more than once."""
    multiprocessing.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
