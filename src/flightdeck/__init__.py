"""Flightdeck: a self-hostable AI platform (gateway, assistant, media)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
