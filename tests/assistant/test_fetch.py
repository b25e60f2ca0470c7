"""Server-side fetching: off unless enabled, and never to private or loopback addresses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flightdeck.assistant.fetch import BlockedAddress, fetch_html
from flightdeck.core.addresses import is_public_address as is_public
from flightdeck.core.settings import Settings
from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, call


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("0.0.0.0", False),
        ("::ffff:127.0.0.1", False),
        ("100.64.0.1", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.fixture
def redirector() -> Iterator[str]:
    """A loopback server that redirects to the cloud metadata address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "http://localhost:9/", "http://[::1]:9/", "http://10.0.0.1/"]
)
async def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress):
        await fetch_html(url, max_bytes=1000, timeout_seconds=5)


async def test_loopback_page_is_refused_before_any_redirect(redirector: str) -> None:
    with pytest.raises(BlockedAddress):
        await fetch_html(redirector, max_bytes=1000, timeout_seconds=5)


async def test_a_redirect_to_a_private_address_is_refused(redirector: str) -> None:
    # Let the first hop (this loopback test server) through: the redirect must still be caught.
    def loopback_ok(address: str) -> bool:
        return address == "127.0.0.1" or is_public(address)

    with pytest.raises(BlockedAddress, match=r"169\.254\.169\.254"):
        await fetch_html(redirector, max_bytes=1000, timeout_seconds=5, allow=loopback_ok)


def test_url_only_pages_are_refused_when_fetching_is_off(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
    redirector: str,
) -> None:
    off = serve(make_settings([EXTRACTIVE], assistant={"embeddings": False}))
    status, body = call(off, "POST", "/v1/assistant/extract", {"url": redirector})
    assert status == 400 and "fetching of urls is disabled" in body["error"]["message"]
    on = serve(make_settings([EXTRACTIVE], assistant={"embeddings": False, "fetch_urls": True}))
    status, body = call(on, "POST", "/v1/assistant/extract", {"url": redirector})
    assert status == 403 and body["error"]["code"] == "url_not_allowed"
