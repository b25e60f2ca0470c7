"""The URL that is checked is the URL that is fetched: only http(s) goes to the network, through
the SSRF guard; local paths only from a local SOURCE; other schemes only when allowed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.registry import known_implementations

from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.errors import FailureReason
from flightdeck.media.ingest import ingest
from flightdeck.media.options import FeatureOptions, FetchOptions, IngestOptions
from flightdeck.media.sources import SourceRecord, open_source
from flightdeck.media.stages import prepare_records
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import ServedFiles, textured_jpeg

GUARDED = IngestOptions(
    fetch=FetchOptions(timeout_s=2, retries=0),  # the SSRF guard on, as by default
    features=FeatureOptions(text_embeddings=False),
    shard_size=100,
)


class ConnectionCounter:
    """A TCP listener on loopback that counts the connections it accepts (FTP, WebHDFS, ...
    clients would connect here if anything let them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    yield counter
    counter.sock.close()


def ingest_rows(
    manifest: Path | str, store: Path, options: IngestOptions = GUARDED
) -> list[dict[str, Any]]:
    engine = LocalEngine(1)
    try:
        ingest(open_source([str(manifest)]), MediaStore.open_writer(str(store)), options, engine)
    finally:
        engine.close()
    return MediaStore.open(str(store)).read_all().to_pylist()


def attack_urls(http_files: ServedFiles, port: int) -> list[str]:
    target = http_files.add("/x.jpg", textured_jpeg(1))
    chained = [
        f"{p}::{target}" for p in ("simplecache", "blockcache", "filecache", "cached", "dir")
    ]
    chained += [f"zip://x.jpg::{target}", f"tar://x.jpg::{target}", f"reference::{target}"]
    others = [
        f"{p}://127.0.0.1:{port}/x.jpg"
        for p in sorted(known_implementations)
        if p not in ("http", "https", "file", "local")
    ]
    return [*chained, *others, f"HTTP+simplecache::{target}", f"data:image/jpeg,{'x' * 10}"]


@pytest.mark.parametrize(
    "shape", ["simplecache::{http}", "webhdfs://{host}/x.jpg", "ftp://{host}/x"]
)
def test_a_manifest_row_cannot_reach_loopback_through_fsspec(
    http_files: ServedFiles, listener: ConnectionCounter, tmp_path: Path, shape: str
) -> None:
    target = http_files.add("/x.jpg", textured_jpeg(1))
    host = (
        http_files.base.removeprefix("http://")
        if "ftp" not in shape
        else (f"127.0.0.1:{listener.port}")
    )
    (tmp_path / "m.csv").write_text("url\n" + shape.format(http=target, host=host) + "\n")
    (row,) = ingest_rows(tmp_path / "m.csv", tmp_path / "store")
    assert http_files.hits == {} and listener.accepted == 0
    assert row["error"] == FailureReason.SCHEME_NOT_ALLOWED.value


def test_chained_and_non_http_urls_never_reach_loopback(
    http_files: ServedFiles, listener: ConnectionCounter, tmp_path: Path
) -> None:
    urls = attack_urls(http_files, listener.port)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"url": u}) + "\n" for u in urls))
    rows = ingest_rows(manifest, tmp_path / "store")
    assert http_files.hits == {} and listener.accepted == 0
    assert len(rows) == len(urls)
    assert {r["error"] for r in rows} == {FailureReason.SCHEME_NOT_ALLOWED.value}


def test_local_paths_in_a_remote_manifest_are_refused(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    secret, other = tmp_path / "secret.jpg", tmp_path / "other.jpg"
    secret.write_bytes(textured_jpeg(2))
    other.write_bytes(textured_jpeg(3))
    body = f"url\n{secret}\nfile://{other}\nsecret.jpg\n".encode()
    manifest_url = http_files.add("/m.csv", body, "text/csv")
    options = replace(GUARDED, fetch=replace(GUARDED.fetch, allow_private_addresses=True))
    rows = ingest_rows(manifest_url, tmp_path / "store", options)
    assert [r["error"] for r in rows] == [FailureReason.LOCAL_PATH_NOT_ALLOWED.value] * 3
    assert all(r["thumbnail"] is None for r in rows)


def test_local_paths_in_a_local_manifest_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(textured_jpeg(3))
    (tmp_path / "m.csv").write_text(f"url\na.jpg\nfile://{tmp_path / 'a.jpg'}x\n/dev/zero\n")
    rows = ingest_rows(tmp_path / "m.csv", tmp_path / "store")
    assert [r["error"] for r in rows] == [None, "not_found", "unreadable"]


@pytest.mark.parametrize(
    "location",
    ["file:///etc/hostname", "simplecache::http://127.0.0.1:1/x.jpg", "ftp://127.0.0.1:1/x"],
)
def test_a_redirect_to_another_scheme_is_refused(http_files: ServedFiles, location: str) -> None:
    first = http_files.add("/hop.jpg", b"", "text/plain", 302, Location=location)
    options = replace(GUARDED, fetch=replace(GUARDED.fetch, allow_private_addresses=True))
    (row,) = prepare_records([_record(first)], "key", options)
    assert row["error"] == FailureReason.SCHEME_NOT_ALLOWED.value
    assert http_files.hits == {"/hop.jpg": 1}


def test_an_allowed_object_store_scheme_is_read_but_never_chained(tmp_path: Path) -> None:
    path = f"memory://media-test-{tmp_path.name}/a.jpg"
    with fsspec.open(path, "wb") as out:
        out.write(textured_jpeg(4))
    fetch = replace(GUARDED.fetch, object_store_schemes=("memory",))
    options = replace(GUARDED, fetch=fetch)
    rows = prepare_records([_record(path), _record(f"memory::{path}")], "key", options)
    assert [r.get("error") for r in rows] == [None, FailureReason.SCHEME_NOT_ALLOWED.value]
    refused = prepare_records([_record(path)], "key", GUARDED)
    assert refused[0]["error"] == FailureReason.SCHEME_NOT_ALLOWED.value


def _record(location: str) -> SourceRecord:
    return SourceRecord(0, location)
