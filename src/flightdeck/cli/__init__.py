"""The ``flightdeck`` command line (typer); :func:`main` is the entry point."""

from __future__ import annotations

import itertools
import sys


def main() -> None:
    """Run the command in ``sys.argv``. For ``media ingest`` on the local engine, the workers'
    fork server boots first, before typer and the command's modules are imported, so its
    imports overlap them."""
    args = sys.argv[1:]
    words = [arg for arg in args if not arg.startswith("-")]
    on_ray = "--engine=ray" in args or ("--engine", "ray") in itertools.pairwise(args)
    if words[:2] == ["media", "ingest"] and "--help" not in args and not on_ray:
        from flightdeck.media.forkserver import start_workers_early

        start_workers_early()
    from flightdeck.cli.main import main as run
    from flightdeck.core.redact import install_log_redaction

    install_log_redaction()  # every command's log lines, not only the server's

    run()
