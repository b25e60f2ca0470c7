"""The gateway's upstream HTTP/1.1 client against real servers on loopback that misbehave on cue."""

from __future__ import annotations

import asyncio
import gc
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from httptools import HttpResponseParser

from flightdeck.core.errors import UpstreamError
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers.http1 import (
    ConnectionLost,
    ConnectionPool,
    MalformedResponse,
    Response,
)
from flightdeck.providers.openai_compat import OpenAIProvider

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEADERS = b"Content-Type: application/json\r\n"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def reply(body: bytes, *extra: bytes, status: bytes = b"200 OK") -> bytes:
    head = [b"HTTP/1.1 " + status, b"Content-Length: " + str(len(body)).encode(), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Server:
    """A loopback TCP server; counts connections; ``handler`` serves each one."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def origin(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def pool_for() -> AsyncIterator[Callable[[Server], ConnectionPool]]:
    pools: list[ConnectionPool] = []

    def make(server: Server) -> ConnectionPool:
        pools.append(ConnectionPool(server.origin, keepalive_seconds=30))
        return pools[-1]

    yield make
    for pool in pools:
        await pool.close()


async def test_keep_alive_reuses_one_connection(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            server.requests.append(head)
            writer.write(reply(b'{"echo":' + body + b"}"))

    async with Server(echo) as server:
        pool = pool_for(server)
        for i in range(5):
            resp = await pool.request("POST", "/v1/x?a=1", HEADERS, b"%d" % i)
            assert resp.status == 200
            assert await resp.read() == b'{"echo":%d}' % i
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\n")
        assert b"Host: 127.0.0.1:" in first and b"Content-Length: 1\r\n" in first


async def test_responses_leave_no_reference_cycle(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    """Reference counting frees a response read whole or closed early (with its parser, whose
    callbacks are the response's methods): none is left for the cyclic collector, which in a
    serving process runs rarely (``cli/serving.py``)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(reply(b'{"ok":true}'))

    async with Server(echo) as server:
        pool = pool_for(server)
        await (await pool.request("POST", "/", HEADERS, b"{}")).read()  # the connection is made
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                await (await pool.request("POST", "/", HEADERS, b"{}")).read()
                (await pool.request("POST", "/", HEADERS, b"{}")).close()
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, (Response, HttpResponseParser))]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert left == []


async def test_chunked_and_gzip_bodies_are_decoded(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    payload = b'{"text": "' + b"hello " * 2000 + b'"}'
    packed = gzip.compress(payload)

    async def chunked_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        )
        for start in range(0, len(packed), 100):
            part = packed[start : start + 100]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await read_request(reader)  # the connection stays usable

    async with Server(chunked_gzip) as server:
        resp = await pool_for(server).request("POST", "/", HEADERS, b"{}")
        assert resp.headers["content-encoding"] == "gzip"
        assert await resp.read() == payload


async def test_informational_responses_are_skipped(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    async def early_hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n")
            writer.write(reply(b'{"ok": true}', b"X-Answer: final"))

    async with Server(early_hints) as server:
        pool = pool_for(server)
        for _ in range(2):  # and the connection stays usable
            resp = await pool.request("POST", "/", HEADERS, b"{}")
            assert (resp.status, resp.headers.get("x-answer")) == (200, "final")
            assert "link" not in resp.headers
            assert await resp.read() == b'{"ok": true}'
        assert server.connections == 1


async def test_body_until_close_and_no_reuse(pool_for: Callable[[Server], ConnectionPool]) -> None:
    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")

    async with Server(close_delimited) as server:
        pool = pool_for(server)
        for _ in range(2):
            resp = await pool.request("POST", "/", HEADERS, b"{}")
            assert await resp.read() == b"part one, part two"
        assert server.connections == 2


async def test_server_closing_mid_body_is_an_error(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    async with Server(short) as server:
        resp = await pool_for(server).request("POST", "/", HEADERS, b"{}")
        with pytest.raises(ConnectionLost):
            await resp.read()


async def test_idle_connection_closed_by_server_is_not_reused(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        writer.write(reply(b"{}"))  # keep-alive advertised, then closed while idle
        await writer.drain()

    async with Server(one_per_connection) as server:
        pool = pool_for(server)
        for _ in range(3):
            resp = await pool.request("POST", "/", HEADERS, b"{}")
            assert await resp.read() == b"{}"
            await asyncio.sleep(0.05)  # let the close arrive
        assert server.connections == 3


async def test_garbage_is_a_malformed_response(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await asyncio.sleep(1)

    async with Server(garbage) as server:
        with pytest.raises(MalformedResponse):
            await pool_for(server).request("POST", "/", HEADERS, b"{}")


async def test_cancelling_a_request_closes_its_connection(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    closed = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if not await reader.read(1):  # EOF: the client went away
            closed.set()

    async with Server(hang) as server:
        pool = pool_for(server)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await pool.request("POST", "/", HEADERS, b"{}")
        await asyncio.wait_for(closed.wait(), 5)
        assert not pool._idle


async def test_streamed_body_is_flow_controlled(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    chunk = b"x" * 65536
    sent = 0

    async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(chunk) * 200))
        for _ in range(200):
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)

    async with Server(firehose) as server:
        resp = await pool_for(server).request("POST", "/", HEADERS, b"{}")
        chunks = resp.iter_chunks()
        received = len(await anext(chunks))
        await asyncio.sleep(0.3)  # a slow consumer: the server must be held back
        assert sent < len(chunk) * 200
        async for part in chunks:
            received += len(part)
        assert received == len(chunk) * 200


async def test_a_body_larger_than_the_buffer_is_read_whole(
    pool_for: Callable[[Server], ConnectionPool],
) -> None:
    big = b"[" + b"0.123456789," * 200_000 + b"0]"  # 2.4 MB: reading pauses and resumes

    async def embeddings(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(big))
        await writer.drain()

    async with Server(embeddings) as server:
        resp = await pool_for(server).request("POST", "/", HEADERS, b"{}")
        async with asyncio.timeout(10):
            assert await resp.read() == big


async def test_refused_connection_raises_oserror() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    pool = ConnectionPool(f"http://127.0.0.1:{port}")
    with pytest.raises(OSError):
        await pool.request("POST", "/", HEADERS, b"{}")
    await pool.close()


def test_only_http_origins() -> None:
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool("ftp://example.com")


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_https_verifies_the_server_certificate(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(b'{"tls": true}'))
        await writer.drain()

    server = await asyncio.start_server(ok, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        trusting = ssl.create_default_context(cafile=str(cert_file))
        pool = ConnectionPool(f"https://localhost:{port}", ssl_context=trusting)
        resp = await pool.request("POST", "/", HEADERS, b"{}")
        assert await resp.read() == b'{"tls": true}'
        await pool.close()

        untrusting = ConnectionPool(f"https://localhost:{port}")  # system CAs only
        with pytest.raises(ssl.SSLCertVerificationError):
            await untrusting.request("POST", "/", HEADERS, b"{}")
        await untrusting.close()
    finally:
        server.close()


async def test_the_provider_refuses_to_follow_a_redirect() -> None:
    async def moved(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            reply(
                b"",
                b"Location: https://api.example.com/v1/chat/completions",
                status=b"308 Permanent Redirect",
            )
        )
        await writer.drain()

    async with Server(moved) as server:
        deployment = ModelDeployment(name="m", base_url=server.origin + "/v1")
        provider = OpenAIProvider(deployment)
        await provider.start()
        try:
            with pytest.raises(UpstreamError, match=r"redirected \(308\) to https://api\.example"):
                await provider.chat({"model": "m", "messages": []})
        finally:
            await provider.close()
