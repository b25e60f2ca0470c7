"""Issue #11, finding 6: limits at the edge, replayed with raw sockets against a real server.

``/admin`` read a 150 MiB body without credentials before its 401 (+437 MiB of memory) and held
incomplete bodies open for over a minute. Every route now shares one body-size limit and one
body deadline, enforced before parsing and authentication, and request heads are bounded in
size, count and time.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flightdeck.core.settings import load_settings
from flightdeck.testing.server import ServerThread

LIMIT = 1024 * 1024
BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 1.0
WAIT = 20.0  # generous bound for a loaded machine; the limits above are what is tested


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    home: Path = tmp_path_factory.mktemp("edge")
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(home),
            "server": {
                "port": 0,
                "max_body_bytes": LIMIT,
                "body_timeout_seconds": BODY_TIMEOUT,
                "header_timeout_seconds": HEADER_TIMEOUT,
                "max_header_count": 50,
                "max_header_bytes": 8192,
            },
        },
    )
    with ServerThread(settings) as running:
        yield running


def connect(server: ServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return sock


def head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """Status, headers and (JSON if it parses) body of one response; the socket may then close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    raw_head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    return int(status_line.split()[1]), headers, parsed


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (read end, or reset)."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_150_mib_body_without_credentials_is_refused_before_it_is_read(
    server: ServerThread,
) -> None:
    before = rss_bytes()
    sent = 0
    with connect(server) as sock:
        sock.sendall(
            head(
                "/admin/keys",
                {"Content-Type": "application/json", "Content-Length": str(150 * 1024 * 1024)},
            )
        )
        chunk = b"x" * 65536
        readable: list[socket.socket] = []
        while not readable and sent < 150 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, headers, body = read_response(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert body["error"]["code"] == "request_too_large"
    assert sent < 150 * 1024 * 1024  # answered while the body was still on its way
    assert rss_bytes() - before < 32 * 1024 * 1024


@pytest.mark.parametrize("path", ["/admin/keys", "/v1/chat/completions", "/v1/messages"])
def test_chunked_body_over_the_limit_is_refused_as_it_streams(
    server: ServerThread, path: str
) -> None:
    auth = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with connect(server) as sock:
        sock.sendall(head(path, auth))
        try:
            while sent < 8 * LIMIT:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body = read_response(sock)
    assert status == 413, body
    assert headers["connection"] == "close"
    assert sent < 8 * LIMIT
    if path == "/v1/messages":
        assert body["type"] == "error"
    else:
        assert body["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("credentials", [True, False])
def test_body_that_never_completes_is_answered_and_closed(
    server: ServerThread, credentials: bool
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "1000"}
    if credentials:
        headers["Authorization"] = f"Bearer {server.api_key}"
    with connect(server) as sock:
        sock.sendall(head("/admin/keys", headers) + b'{"name": "half')
        status, response_headers, body = read_response(sock)
        assert closed_by_server(sock)
    assert status == 408
    assert response_headers["connection"] == "close"
    assert body["error"]["code"] == "request_timeout"


def test_response_before_the_body_is_read_closes_the_connection(server: ServerThread) -> None:
    """The gateway authenticates before it reads: its 401 must not wait for the body."""
    with connect(server) as sock:
        sock.sendall(head("/v1/chat/completions", {"Content-Length": "1000"}) + b"{")
        status, headers, _ = read_response(sock)
        assert closed_by_server(sock)
    assert status == 401
    assert headers["connection"] == "close"


def test_slow_headers_are_dropped(server: ServerThread) -> None:
    """Slowloris: a header byte every 0.2 s would take 40 s; the head deadline closes it."""
    drip = b"X-Slow: " + b"a" * 200
    sent = 0
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for byte in drip:
                if select.select([sock], [], [], 0.2)[0]:
                    break
                sock.sendall(bytes([byte]))
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = sock.recv(65536)
        assert closed_by_server(sock)
    assert sent < len(drip)
    assert data.startswith(b"HTTP/1.1 408")


def test_idle_new_connection_is_dropped(server: ServerThread) -> None:
    with connect(server) as sock:
        assert sock.recv(65536).startswith(b"HTTP/1.1 408")
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    "headers",
    [
        {f"X-Many-{i}": "1" for i in range(60)},
        {"X-Big": "a" * 9000},
    ],
    ids=["count", "size"],
)
def test_oversized_request_heads_get_431(server: ServerThread, headers: dict[str, str]) -> None:
    with connect(server) as sock:
        sock.sendall(head("/healthz", headers, method="GET"))
        status, response_headers, _ = read_response(sock)
        assert closed_by_server(sock)
    assert status == 431
    assert response_headers["connection"] == "close"


def test_requests_within_the_limits_still_pass(server: ServerThread) -> None:
    with connect(server) as sock:
        sock.sendall(head("/healthz", {f"X-Some-{i}": "1" for i in range(20)}, method="GET"))
        status, _, _ = read_response(sock)
        sock.sendall(head("/healthz", {}, method="GET"))  # keep-alive: a second request
        second, _, _ = read_response(sock)
    assert (status, second) == (200, 200)
