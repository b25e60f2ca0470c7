"""The ``flightdeck`` command."""

from __future__ import annotations

import typer

from flightdeck.cli import media as media_cli

app = typer.Typer(no_args_is_help=True)
app.add_typer(media_cli.app, name="media")


def main() -> None:
    app()
