"""The ``flightdeck`` command line (typer)."""
