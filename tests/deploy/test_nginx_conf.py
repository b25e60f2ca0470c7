"""deploy/nginx.conf agrees with Flightdeck's settings and passes ``nginx -t`` (nginx runs it
for real in tests/e2e/test_replicas.py)."""

from __future__ import annotations

import re
from pathlib import Path

from flightdeck.core.settings import ServerSettings
from flightdeck.testing.server import free_port
from tests.deploy_support.nginx import SHIPPED, Nginx

UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def directive(name: str) -> list[str]:
    text = re.sub(r"#.*", "", SHIPPED.read_text())
    return re.findall(rf"^\s*{name}\s+([^;]+);", text, flags=re.M)


def test_the_body_limit_is_flightdecks() -> None:
    (size,) = directive("client_max_body_size")
    parsed = re.fullmatch(r"(\d+)([kmg]?)", size.lower())
    assert parsed is not None, size
    assert int(parsed[1]) * UNITS[parsed[2]] == ServerSettings().max_body_bytes


def test_streams_are_not_buffered_and_posts_are_never_resent() -> None:
    assert directive("proxy_buffering") == ["off"]
    assert directive("gzip") == ["off"]
    (read_timeout,) = directive("proxy_read_timeout")
    assert int(read_timeout.removesuffix("s")) > 60  # above the router's stream idle timeout
    (retries,) = directive("proxy_next_upstream")
    assert "non_idempotent" not in retries.split()


def test_idle_upstream_connections_close_on_nginxs_side_first() -> None:
    (timeout,) = directive("keepalive_timeout")
    assert int(timeout.removesuffix("s")) < ServerSettings().keep_alive_seconds
    assert directive("proxy_http_version") == ["1.1"]
    assert directive("proxy_set_header Connection") == ['""']


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    output = Nginx(tmp_path, [free_port(), free_port()]).check()
    assert "syntax is ok" in output
