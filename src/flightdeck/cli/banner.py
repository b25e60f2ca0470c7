"""The start banner of ``flightdeck up`` and ``flightdeck serve``: where to point a browser."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from flightdeck import __version__
from flightdeck.core.settings import Settings
from flightdeck.web import PAGES

# a wildcard bind is shown as loopback, the address a browser here can open
ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}  # noqa: S104


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens: a wildcard bind address becomes loopback."""
    shown = ANY_ADDRESS.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def start_banner(settings: Settings, first_key: str | None = None) -> list[str]:
    """Lines (rich markup) naming the version, every page with its URL, the store, the model
    groups and, on ``up``'s first start, the admin key that was just created."""
    url = base_url(settings.server.host, settings.server.port)
    width = max(len(name) for name, _ in PAGES)
    lines = [f"[bold]Flightdeck {__version__}[/] on [link={url}/]{url}/[/link]"]
    lines += [f"  {name:<{width}}  {url}{path}" for name, path in PAGES[1:]]
    lines.append(f"  {'API key':<{width}}  flightdeck keys create --name NAME")
    # the store URL without its password: this banner ends up in logs
    lines.append(f"store: {make_url(settings.store_url).render_as_string(hide_password=True)}")
    lines.append("models: " + ", ".join(settings.model_names()))
    if first_key:
        lines.append("first start: an admin API key was created. It is shown once:")
        lines.append(f"  [bold]{first_key}[/]")
    return lines
