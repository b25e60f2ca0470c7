"""Web hardening (issue #11): the pages' security headers, and the admin API's description
for admins only, with Swagger UI served from this server instead of a CDN."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import Settings, load_settings
from flightdeck.store.database import Store
from flightdeck.testing.server import ServerThread
from flightdeck.web import STATIC

PAGES = ["/app/", "/app/search.html", "/app/app.js", "/app/search.css"]


async def seed(settings: Settings) -> dict[str, str]:
    store = Store(settings.store_url)
    keys: dict[str, str] = {}
    try:
        await store.migrate()
        await TenantStore(store).create("acme")
        for role in (Role.ADMIN, Role.MEMBER):
            _, keys[role.value] = await KeyStore(store).create(role.value, role=role, tenant="acme")
    finally:
        await store.close()
    return keys


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, dict[str, str]]]:
    home: Path = tmp_path_factory.mktemp("web")
    settings = load_settings(None, {}, defaults={"home": str(home), "server": {"port": 0}})
    keys = asyncio.run(seed(settings))
    with ServerThread(settings) as server:
        yield server, keys | {"platform": server.api_key}


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_security_headers(
    served: tuple[ServerThread, dict[str, str]], path: str
) -> None:
    server, _ = served
    status, headers, _ = http_raw(server.url + path)
    assert status == 200
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


class InlineFinder(HTMLParser):
    """Inline scripts, inline styles and event-handler attributes: what the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{k}]" for k in names if k == "style" or k.startswith("on")]
        srcs = [v or "" for k, v in attrs if k in ("src", "href")]
        self.found += [f"{tag} from {v}" for v in srcs if re.match(r"(https?:)?//", v)]


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC.glob("*.html")))
def test_pages_have_nothing_the_policy_blocks(page: str) -> None:
    finder = InlineFinder()
    finder.feed((STATIC / page).read_text())
    assert finder.found == []


@pytest.mark.parametrize(
    ("credential", "expected"), [(None, 401), ("member", 403), ("admin", 200), ("platform", 200)]
)
@pytest.mark.parametrize("path", ["/admin/openapi.json", "/admin/docs"])
def test_api_description_is_for_admins(
    served: tuple[ServerThread, dict[str, str]], path: str, credential: str | None, expected: int
) -> None:
    server, keys = served
    headers = {"Authorization": f"Bearer {keys[credential]}"} if credential else {}
    status, response_headers, body = http_raw(server.url + path, headers)
    assert status == expected
    if expected == 200 and path == "/admin/docs":
        assert "frame-ancestors 'none'" in response_headers["content-security-policy"]
        assert not re.search(rb"(src|href)=\"(https?:)?//", body)  # nothing from a CDN


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"])
def test_swagger_ui_is_served_locally(
    served: tuple[ServerThread, dict[str, str]], name: str
) -> None:
    server, _ = served
    status, headers, body = http_raw(f"{server.url}/admin/docs/assets/{name}")
    assert status == 200 and len(body) > 100
    assert headers["x-content-type-options"] == "nosniff"
    assert http_raw(f"{server.url}/admin/docs/assets/index.html")[0] == 404


def http_raw(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
