"""Fetch stage against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio

import pytest

from flightdeck.core.addresses import is_public_address as address_is_public
from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.fetch import Fetched, Fetcher, robots_forbid
from flightdeck.media.options import FetchOptions
from tests.media.conftest import ServedFiles, textured_jpeg

ALLOW = FetchOptions(
    allow_private_addresses=True,
    timeout_s=1.0,
    retries=1,
    backoff_s=0.01,
    max_bytes=100_000,
    local_paths=True,
)


def fetch(url: str, options: FetchOptions = ALLOW) -> Fetched:
    async def go() -> Fetched:
        async with Fetcher(options) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


def failure(url: str, options: FetchOptions = ALLOW) -> FailureReason:
    with pytest.raises(DocumentFailed) as caught:
        fetch(url, options)
    return caught.value.reason


def test_image_is_fetched_with_its_content_type(http_files: ServedFiles) -> None:
    body = textured_jpeg(1)
    got = fetch(http_files.add("/a.jpg", body))
    assert got.data == body
    assert got.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("path", "status", "content_type", "headers", "size", "reason"),
    [
        ("/gone.jpg", 404, "text/plain", {}, 10, FailureReason.HTTP_4XX),
        ("/broken.jpg", 503, "text/plain", {}, 10, FailureReason.HTTP_5XX),
        ("/page.html", 200, "text/html", {}, 10, FailureReason.WRONG_CONTENT_TYPE),
        ("/huge.jpg", 200, "image/jpeg", {}, 200_000, FailureReason.TOO_LARGE),
        ("/noai.jpg", 200, "image/jpeg", {"X-Robots-Tag": "noai"}, 10, FailureReason.ROBOTS_NOAI),
        (
            "/noimageai.jpg",
            200,
            "image/jpeg",
            {"X-Robots-Tag": "otherbot: noimageai"},
            10,
            FailureReason.ROBOTS_NOAI,
        ),
    ],
)
def test_refused_responses_record_a_reason(
    http_files: ServedFiles,
    path: str,
    status: int,
    content_type: str,
    headers: dict[str, str],
    size: int,
    reason: FailureReason,
) -> None:
    url = http_files.add(path, b"x" * size, content_type, status, **headers)
    assert failure(url) is reason


def test_5xx_is_retried_before_failing(http_files: ServedFiles) -> None:
    url = http_files.add("/down.jpg", b"", "text/plain", 500)
    assert failure(url) is FailureReason.HTTP_5XX
    assert http_files.hits["/down.jpg"] == 2  # one try plus retries=1


def test_slow_server_times_out(http_files: ServedFiles) -> None:
    url = http_files.add("/slow.jpg", textured_jpeg(2))
    http_files.slow.add("/slow.jpg")
    options = FetchOptions(allow_private_addresses=True, timeout_s=0.3, retries=0)
    assert failure(url, options) is FailureReason.TIMEOUT


def test_noai_is_fetched_when_told_to_ignore_it(http_files: ServedFiles) -> None:
    url = http_files.add("/n.jpg", b"abc", "image/jpeg", **{"X-Robots-Tag": "noai"})
    options = FetchOptions(allow_private_addresses=True, respect_noai=False)
    assert fetch(url, options).data == b"abc"


def test_redirect_is_followed_and_checked(http_files: ServedFiles) -> None:
    target = http_files.add("/real.jpg", b"img")
    http_files.add("/moved.jpg", b"", "text/plain", 302, Location="/real.jpg")
    got = fetch(http_files.base + "/moved.jpg")
    assert got.data == b"img"
    assert got.final_url == target


def test_loopback_is_refused_by_default(http_files: ServedFiles) -> None:
    url = http_files.add("/a.jpg", b"img")
    assert failure(url, FetchOptions()) is FailureReason.PRIVATE_ADDRESS
    assert "/a.jpg" not in http_files.hits


def test_localhost_name_is_refused_by_the_resolver(http_files: ServedFiles) -> None:
    url = http_files.add("/a.jpg", b"img").replace("127.0.0.1", "localhost")
    assert failure(url, FetchOptions(retries=0)) is FailureReason.PRIVATE_ADDRESS
    assert "/a.jpg" not in http_files.hits


@pytest.mark.parametrize("host", ["127.0.0.2", "localhost", "[::1]"])
def test_redirect_to_a_private_address_is_refused(http_files: ServedFiles, host: str) -> None:
    # The first hop (the test server) is let through; the redirect target must be refused.
    port = http_files.base.rsplit(":", 1)[1]
    http_files.add("/real.jpg", b"img")
    http_files.add("/hop.jpg", b"", "text/plain", 302, Location=f"http://{host}:{port}/real.jpg")
    first_hop = http_files.base + "/hop.jpg"

    async def go() -> FailureReason:
        async with Fetcher(FetchOptions(retries=0)) as fetcher:
            guard = fetcher._check_url
            fetcher._check_url = lambda url: None if url == first_hop else guard(url)  # type: ignore[method-assign]
            try:
                await fetcher.fetch(first_hop)
            except DocumentFailed as failed:
                return failed.reason
        raise AssertionError("followed a redirect to a private address")

    assert asyncio.run(go()) is FailureReason.PRIVATE_ADDRESS
    assert http_files.hits.get("/hop.jpg") == 1
    assert "/real.jpg" not in http_files.hits


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x.jpg",
        "http://169.254.169.254/latest",
        "http://192.168.1.1:8080/a.png",
        "http://0.0.0.0/a.jpg",
    ],
)
def test_private_literal_addresses_are_refused_before_connecting(url: str) -> None:
    assert failure(url, FetchOptions(retries=0)) is FailureReason.PRIVATE_ADDRESS


def test_too_many_redirects(http_files: ServedFiles) -> None:
    http_files.add("/loop.jpg", b"", "text/plain", 302, Location="/loop.jpg")
    assert failure(http_files.base + "/loop.jpg") is FailureReason.TOO_MANY_REDIRECTS


def test_unreachable_port_is_a_connection_error() -> None:
    options = FetchOptions(allow_private_addresses=True, retries=0, timeout_s=1)
    assert failure("http://127.0.0.1:9/x.jpg", options) is FailureReason.CONNECTION


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.1.1", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("2001:4860:4860::8888", True),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert address_is_public(address) is public


def test_robots_header_parsing() -> None:
    assert robots_forbid(["noindex, noai"])
    assert robots_forbid(["googlebot: NoImageAI"])
    assert not robots_forbid(["noindex", "nofollow"])


def test_local_missing_file_is_not_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert failure(str(tmp_path / "nope.jpg")) is FailureReason.NOT_FOUND
