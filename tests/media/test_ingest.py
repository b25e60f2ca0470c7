"""Ingest end to end: a manifest served over HTTP on loopback into a store on disk."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.ingest import IngestReport, ingest, retry_failed
from flightdeck.media.options import FeatureOptions, FetchOptions, IngestOptions
from flightdeck.media.sources import document_id, open_source
from flightdeck.mediastore.errors import StoreError
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import ServedFiles, textured_jpeg
from tests.media.test_video import make_video

OPTIONS = IngestOptions(
    fetch=FetchOptions(allow_private_addresses=True, timeout_s=2, retries=0, max_bytes=200_000),
    features=FeatureOptions(text_embeddings=False),
    shard_size=4,
)


def run(paths: list[str], store: Path, options: IngestOptions = OPTIONS) -> IngestReport:
    engine = LocalEngine(1)
    try:
        return ingest(open_source(paths), MediaStore.open_writer(str(store)), options, engine)
    finally:
        engine.close()


def rows_by_source(store: Path) -> dict[str, dict[str, Any]]:
    table = MediaStore.open(str(store)).read_all()
    return {row["source"]: row for row in table.to_pylist()}


def write_manifest(path: Path, urls: list[str]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"url": u, "caption": f"caption {i}", "license": "cc0"}) + "\n"
            for i, u in enumerate(urls)
        )
    )
    return path


def test_manifest_of_good_and_bad_inputs(http_files: ServedFiles, tmp_path: Path) -> None:
    urls = [
        http_files.add("/a.jpg", textured_jpeg(1)),
        http_files.add("/b.jpg", textured_jpeg(2, (640, 480))),
        http_files.add("/page", b"<html/>", "text/html"),
        http_files.add("/big.jpg", textured_jpeg(3, (2000, 2000), quality=100)),
        http_files.add("/corrupt.jpg", b"\xff\xd8\xff garbage"),
        http_files.add("/noai.jpg", textured_jpeg(4), **{"X-Robots-Tag": "noai"}),
        http_files.add("/err.jpg", b"", "text/plain", 500),
        http_files.base + "/missing.jpg",
    ]
    store = tmp_path / "store"
    report = run([str(write_manifest(tmp_path / "m.jsonl", urls))], store)
    rows = rows_by_source(store)
    assert set(rows) == set(urls)
    assert {u.rsplit("/", 1)[1]: r["error"] for u, r in rows.items()} == {
        "a.jpg": None,
        "b.jpg": None,
        "page": "wrong_content_type",
        "big.jpg": "too_large",
        "corrupt.jpg": "undecodable",
        "noai.jpg": "robots_noai",
        "err.jpg": "http_5xx",
        "missing.jpg": "http_4xx",
    }
    good = rows[urls[1]]
    assert (good["width"], good["height"], good["status"]) == (640, 480, "ok")
    assert Image.open(io.BytesIO(good["thumbnail"])).size == (341, 256)
    assert good["doc_id"] == document_id(urls[1])
    assert good["caption"] == "caption 1" and json.loads(good["metadata"]) == {"license": "cc0"}
    assert report.ok == 2 and report.failed == 6
    store_ = MediaStore.open(str(store))
    assert store_.verify() == []
    assert len(store_.shards) == 2
    stats = [store_.stats(name) for name in sorted(store_.shards)]
    assert sum(s["rows"] for s in stats) == 8
    assert stats[0]["failures"] == {"wrong_content_type": 1, "too_large": 1}


def test_duplicates_are_links_within_and_across_runs(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    original = textured_jpeg(10, (400, 300), quality=95)
    first = [
        http_files.add("/orig.jpg", original),
        http_files.add("/copy.jpg", original),  # same bytes
        http_files.add("/other.jpg", textured_jpeg(11)),
    ]
    store = tmp_path / "store"
    run([str(write_manifest(tmp_path / "one.jsonl", first))], store)
    second = [
        first[2],  # already in the store: not written twice
        http_files.add("/smaller.jpg", textured_jpeg(10, (200, 150), quality=60)),  # near
        http_files.add("/new.jpg", textured_jpeg(12)),
    ]
    report = run([str(write_manifest(tmp_path / "two.jsonl", second))], store)
    rows = rows_by_source(store)
    assert len(rows) == 5
    orig_id = rows[first[0]]["doc_id"]
    assert (rows[first[1]]["status"], rows[first[1]]["duplicate_of"]) == ("duplicate", orig_id)
    assert rows[first[1]]["duplicate_distance"] == 0 and rows[first[1]]["thumbnail"] is None
    near = rows[second[1]]
    assert (near["status"], near["duplicate_of"]) == ("duplicate", orig_id)
    assert near["duplicate_distance"] <= OPTIONS.near_duplicate_distance
    assert near["sha256"] != rows[first[0]]["sha256"]
    assert rows[second[2]]["status"] == "ok"
    assert report.already_present == 1 and report.documents == 2


def test_rerunning_the_same_command_does_nothing(http_files: ServedFiles, tmp_path: Path) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(20 + i)) for i in range(6)]
    manifest = str(write_manifest(tmp_path / "m.jsonl", urls))
    store = tmp_path / "store"
    run([manifest], store)
    hits = dict(http_files.hits)
    report = run([manifest], store)
    assert report.documents == 0 and report.inputs_unchanged == 6
    assert http_files.hits == hits
    assert len(rows_by_source(store)) == 6


def test_retry_failed_replaces_only_transient_failures(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    urls = [
        http_files.add("/fine.jpg", textured_jpeg(30)),
        http_files.add("/flaky.jpg", b"", "text/plain", 503),
        http_files.add("/html", b"<p>", "text/html"),
    ]
    store = tmp_path / "store"
    run([str(write_manifest(tmp_path / "m.jsonl", urls))], store)
    assert rows_by_source(store)[urls[1]]["error"] == "http_5xx"
    http_files.add("/flaky.jpg", textured_jpeg(31))
    hits_before = dict(http_files.hits)
    engine = LocalEngine(1)
    try:
        report = retry_failed(MediaStore.open_writer(str(store)), OPTIONS, engine)
    finally:
        engine.close()
    rows = rows_by_source(store)
    assert len(rows) == 3
    assert rows[urls[1]]["status"] == "ok" and rows[urls[1]]["error"] is None
    assert rows[urls[2]]["error"] == "wrong_content_type"  # not transient: left alone
    assert report.documents == 1 and report.ok == 1
    assert http_files.hits["/html"] == hits_before["/html"]
    assert http_files.hits["/fine.jpg"] == hits_before["/fine.jpg"]
    assert MediaStore.open(str(store)).verify() == []


def test_videos_become_keyframe_documents(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4")
    store = tmp_path / "store"
    run([str(video)], store)
    table = MediaStore.open(str(store)).read_all()
    rows = table.to_pylist()
    (parent,) = [r for r in rows if r["kind"] == "video"]
    frames = [r for r in rows if r["kind"] == "keyframe"]
    assert parent["doc_id"] == document_id(str(video))
    assert [f["timestamp_s"] for f in frames] == [0.0, 1.0]
    assert all(f["parent_id"] == parent["doc_id"] and f["thumbnail"] for f in frames)
    assert len({r["doc_id"] for r in rows}) == 3


def test_schema_is_the_documented_one(image_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run([str(image_folder)], store)
    table = MediaStore.open(str(store)).read_all()
    docs = (Path(__file__).parents[2] / "docs" / "media.md").read_text()
    for field in table.schema:
        assert f"`{field.name}`" in docs, f"column {field.name} is not documented"
    assert table.schema.field("phash").type == pa.uint64()


def test_writer_removes_what_a_killed_run_left_and_readers_change_nothing(
    image_folder: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    run([str(image_folder)], store)
    orphan = store / "shards" / "abc-000009.deadbeef.parquet"
    orphan.write_bytes(b"half written")
    (store / "tmp").mkdir(exist_ok=True)
    (store / "tmp" / "x.part").write_bytes(b"partial")
    MediaStore.open(str(store))
    assert orphan.exists()
    MediaStore.open_writer(str(store))
    assert not orphan.exists() and not (store / "tmp").exists()


def test_listed_shard_that_is_missing_is_a_store_error(image_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run([str(image_folder)], store)
    opened = MediaStore.open(str(store))
    name = sorted(opened.shards)[0]
    (store / opened.shards[name].file).unlink()
    assert opened.verify() == [name]
    with pytest.raises(StoreError, match="missing or unreadable"):
        opened.read_all()


def test_store_on_an_fsspec_filesystem(image_folder: Path) -> None:
    url = f"memory://stores/{uuid.uuid4().hex}"
    engine = LocalEngine(1)
    try:
        report = ingest(
            open_source([str(image_folder)]), MediaStore.open_writer(url), OPTIONS, engine
        )
    finally:
        engine.close()
    assert report.ok == 5
    reopened = MediaStore.open(url)
    assert reopened.read_all().num_rows == 5 and reopened.verify() == []


def test_python_example_in_docs_runs(image_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run([str(image_folder)], store)
    docs = (Path(__file__).parents[2] / "docs" / "media.md").read_text()
    example = docs.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(example.replace(".flightdeck/media/tenants/default/photos", str(store)), namespace)
    assert isinstance(namespace["table"], pa.Table) and namespace["table"].num_rows == 5


def test_local_engine_reports_documents_while_a_shard_runs(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(300 + i)) for i in range(6)]
    urls.append(http_files.add("/page", b"<p>", "text/html"))
    http_files.delay_s = 0.1
    events: list[Counter[str]] = []
    engine = LocalEngine(1, on_progress=events.append)
    options = replace(OPTIONS, shard_size=100, fetch=replace(OPTIONS.fetch, concurrency=1))
    try:
        source = open_source([str(write_manifest(tmp_path / "m.jsonl", urls))])
        ingest(source, MediaStore.open_writer(str(tmp_path / "s")), options, engine)
    finally:
        engine.close()
    assert sum(events, Counter()) == Counter(ok=6, wrong_content_type=1)
    assert len(events) > 1  # counts arrived during the shard, not only at its end
