"""``GET /`` is a start page linking every page; every page carries the same security headers;
``flightdeck up`` and ``flightdeck serve`` print one banner naming the pages."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from flightdeck.cli.banner import base_url, start_banner
from flightdeck.core.settings import load_settings
from flightdeck.testing.server import ServerThread, free_port
from flightdeck.web import PAGES
from flightdeck.web.headers import page_headers


def get(url: str) -> tuple[int, dict[str, str], str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, response.read().decode()


def test_start_page_is_html_linking_every_page(local_server: ServerThread) -> None:
    status, headers, body = get(local_server.url + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    for _, path in PAGES[1:]:
        assert f'href="{path}"' in body
    assert "flightdeck keys create" in body and "flightdeck up" in body
    assert "http://" not in body and "https://" not in body  # nothing from a CDN


@pytest.mark.parametrize("path", ["/", "/app/", "/app/search.html", "/app/app.js"])
def test_every_page_has_the_security_headers(local_server: ServerThread, path: str) -> None:
    _, headers, _ = get(local_server.url + path)
    expected = page_headers()
    assert {k: headers.get(k) for k in expected} == expected


@pytest.mark.parametrize("page", ["index.html", "search.html"])
def test_app_pages_explain_where_a_key_comes_from(local_server: ServerThread, page: str) -> None:
    _, _, body = get(f"{local_server.url}/app/{page}")
    assert 'id="key-help"' in body and "flightdeck keys create" in body
    assert 'src="keyhelp.js"' in body


def test_banner_names_every_page_with_its_url() -> None:
    settings = load_settings(None, {}, defaults={"server": {"host": "0.0.0.0", "port": 8080}})
    lines = start_banner(settings, "fd-secret")
    text = "\n".join(lines)
    for name, path in PAGES[1:]:
        assert any(name in line and f"http://127.0.0.1:8080{path}" in line for line in lines)
    assert "http://127.0.0.1:8080/" in lines[0]
    assert "fd-secret" in text and "flightdeck keys create" in text


def test_banner_never_shows_the_store_password() -> None:
    url = "postgresql+asyncpg://fd:s3cret-pw@db.internal:5432/flightdeck"
    settings = load_settings(None, {}, defaults={"store": {"url": url}})
    text = "\n".join(start_banner(settings))
    assert "s3cret-pw" not in text and "fd:***@db.internal:5432/flightdeck" in text


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:80"), ("::", "http://[::1]:80"), ("::1", "http://[::1]:80")],
)
def test_base_url_is_one_a_browser_here_can_open(host: str, url: str) -> None:
    assert base_url(host, 80) == url


@pytest.mark.parametrize("command", ["up", "serve"])
def test_up_and_serve_print_the_same_banner(tmp_path: Path, command: str) -> None:
    port = free_port()
    config = tmp_path / "flightdeck.toml"
    config.write_text(f'[server]\nport = {port}\n[auth]\nplatform_tenant = "default"\n')
    args = ["--port", str(port)] if command == "up" else ["--config", str(config)]
    process = subprocess.Popen(
        [sys.executable, "-m", "flightdeck", command, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(len(PAGES) + 1)]
    finally:
        process.terminate()
        process.wait(timeout=60)
    url = f"http://127.0.0.1:{port}"
    assert lines[0].startswith("Flightdeck ") and f"{url}/" in lines[0]
    for (name, path), line in zip(PAGES[1:], lines[1:], strict=False):
        assert line.split() == [*name.split(), f"{url}{path}"]
