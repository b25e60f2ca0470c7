"""The ``flightdeck`` command line (typer); :func:`main` is the entry point."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command in ``sys.argv``. For ``media ingest``, the workers' fork server boots
    first, before typer and the command's modules are imported, so its imports overlap them."""
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    if words[:2] == ["media", "ingest"] and "--help" not in sys.argv:
        from flightdeck.media.forkserver import start_workers_early

        start_workers_early()
    from flightdeck.cli.main import main as run

    run()
