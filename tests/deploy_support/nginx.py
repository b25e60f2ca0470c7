"""The shipped ``deploy/nginx.conf``, run for real (Debian's nginx) on loopback ports.

Only what must differ on a test machine is changed, each by one exact substitution that must
match once (so a reshaped nginx.conf fails here loudly rather than being tested half): the
replicas' addresses, the listen ports, the certificate paths, and the temp/pid/log paths.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flightdeck.testing.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx.conf"
NGINX = os.environ.get("FLIGHTDECK_NGINX", "/usr/sbin/nginx")


def nginx_path() -> str:
    if not shutil.which(NGINX):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{NGINX} is missing on CI: make tools-nginx")
        pytest.skip(f"{NGINX} not installed (make tools-nginx)")
    return NGINX


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in ``folder``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def substitute(text: str, old: str, new: str) -> str:
    count = text.count(old)
    assert count == 1, f"deploy/nginx.conf: expected {old!r} once, found it {count} times"
    return text.replace(old, new)


def render(prefix: Path, upstreams: list[int], https_port: int, http_port: int) -> Path:
    """The shipped config with the test's addresses and paths; returns the file."""
    cert, key = self_signed(prefix)
    text = SHIPPED.read_text()
    shipped = re.search(r"server flightdeck:8080( [^;]*);", text)
    assert shipped, "deploy/nginx.conf: no `server flightdeck:8080 ...;` line"
    servers = "\n        ".join(f"server 127.0.0.1:{port}{shipped[1]};" for port in upstreams)
    text = substitute(text, shipped[0], servers)
    text = substitute(text, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = substitute(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = substitute(text, "/etc/nginx/tls/tls.crt", str(cert))
    text = substitute(text, "/etc/nginx/tls/tls.key", str(key))
    text = substitute(text, "error_log /dev/stderr warn;", f"error_log {prefix}/error.log warn;")
    text = substitute(
        text, "access_log /dev/stdout flightdeck;", f"access_log {prefix}/access.log flightdeck;"
    )
    temp = "\n    ".join(
        f"{kind}_temp_path {prefix}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = substitute(text, "http {\n", f"http {{\n    {temp}\n")
    path = prefix / "nginx.conf"
    path.write_text(text)
    return path


class Nginx:
    """``with Nginx(tmp_path, [port, ...]) as proxy: proxy.url ...`` (https on loopback)."""

    def __init__(self, prefix: Path, upstreams: list[int]) -> None:
        self.prefix = prefix
        prefix.mkdir(parents=True, exist_ok=True)
        self.https_port, self.http_port = free_port(), free_port()
        self.config = render(prefix, upstreams, self.https_port, self.http_port)
        self.cert = prefix / "tls.crt"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def command(self, *extra: str) -> list[str]:
        directives = f"daemon off; pid {self.prefix}/nginx.pid;"
        if os.geteuid() == 0:  # workers as root too: the prefix is a private temp folder
            directives += " user root;"
        return [
            nginx_path(),
            "-p",
            str(self.prefix),
            "-c",
            str(self.config),
            "-e",
            str(self.prefix / "error.log"),
            "-g",
            directives,
            *extra,
        ]

    def check(self) -> str:
        """``nginx -t`` on the rendered config; returns its output."""
        out = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stderr

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(self.command(), stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not (self.prefix / "nginx.pid").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
