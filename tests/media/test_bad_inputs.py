"""One bad input is one failure row: whatever a manifest row holds, the run goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightdeck.media.errors import FailureReason
from flightdeck.media.options import FeatureOptions, FetchOptions, IngestOptions
from flightdeck.media.sources import Source, SourceRecord, canonical_location, document_id
from flightdeck.media.stages import prepare_records
from flightdeck.mediastore.schema import to_table
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import ServedFiles, textured_jpeg

REASONS = {reason.value for reason in FailureReason}
OPTIONS = IngestOptions(
    fetch=FetchOptions(
        allow_private_addresses=True, timeout_s=2, retries=0, max_bytes=60_000, local_paths=True
    ),
    features=FeatureOptions(text_embeddings=False),
)
BAD_ROWS = [
    "foo://x/y.jpg",
    "http://[::1/x.jpg",
    "http://127.0.0.1:99999/x.jpg",
    "http://127.0.0.1:port/x.jpg",
    "http:///x.jpg",
    "https://exa mple.com/x.jpg",
    "http://xn--/x.jpg",
    "http://" + "a" * 300 + ".com/x.jpg",
    "/no/such/dir/\x00.jpg",
    "\ud800.jpg",
    "s3:/",
    ":",
    "C:\\\\photos\\x.jpg",
]


def test_bad_rows_become_failure_rows_and_the_run_goes_on(
    http_files: ServedFiles, tmp_path: Path
) -> None:
    good = http_files.add("/good.jpg", textured_jpeg(1))
    manifest = tmp_path / "m.jsonl"
    rows = [{"url": url, "caption": f"row {i}"} for i, url in enumerate([*BAD_ROWS, good])]
    rows.append({"url": ["not", "a", "string"]})
    rows.append({"caption": "no url at all"})
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json\n[1]\n")
    args = [str(manifest), "--out", str(tmp_path / "s"), "--no-text-embeddings"]
    args += ["--allow-private-addresses", "--workers", "1", "--retries", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "flightdeck", "media", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    stored = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert len(stored) == len(rows) + 2
    by_source = {row["source"]: row for row in stored}
    assert by_source[good]["status"] == "ok"
    failed = [row for row in stored if row["source"] != good]
    assert all(row["status"] == "failed" and row["error"] in REASONS for row in failed)
    assert by_source["foo://x/y.jpg"]["error"] == "scheme_not_allowed"
    assert by_source["http://[::1/x.jpg"]["error"] == "bad_url"
    assert by_source[f"{manifest}#line={len(rows) + 1}"]["error"] == "bad_manifest_row"
    assert f"line {len(rows) + 2}: not a JSON object" in {row["error_detail"] for row in failed}


@given(st.text(max_size=80))
def test_any_text_has_a_document_id(location: str) -> None:
    assert len(document_id(location)) == 32
    assert isinstance(canonical_location(location), str)


_PATHS = st.sampled_from(["/ok.jpg", "/trunc.jpg", "/empty.jpg", "/page", "/big.jpg", "/png"])
_NO_SLASH = st.text(alphabet=st.characters(exclude_characters="/"), max_size=30)
# Hosts stay on loopback or fail to parse: a fuzzer must not wait on DNS or the internet.
_URLS = st.one_of(
    _PATHS.map(lambda path: "{base}" + path),
    _NO_SLASH,
    st.builds(
        lambda scheme, rest: f"{scheme}:{rest}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "file", "s3", "data", "x+y"]),
        _NO_SLASH,
    ),
    st.builds(
        lambda tail: f"http://127.0.0.1{tail}/x.jpg",
        st.text(alphabet=":[]%@0123456789abc", max_size=12),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(urls=st.lists(_URLS, min_size=1, max_size=6), cut=st.integers(0, 2000))
def test_any_url_shape_and_body_gives_rows_that_fit_the_schema(
    http_files: ServedFiles, urls: list[str], cut: int
) -> None:
    jpeg = textured_jpeg(2)
    http_files.add("/ok.jpg", jpeg)
    http_files.add("/trunc.jpg", jpeg[:cut])
    http_files.add("/empty.jpg", b"")
    http_files.add("/page", b"<html>", "text/html; charset=utf-8")
    http_files.add("/big.jpg", b"\xff\xd8" + b"x" * 70_000)
    http_files.add("/png", jpeg, "image/png")
    records = [
        SourceRecord(i, url.replace("{base}", http_files.base)) for i, url in enumerate(urls)
    ]
    rows = prepare_records(records, "key", OPTIONS)
    assert [row["input_index"] for row in rows] == list(range(len(records)))
    for row in rows:
        assert row["status"] == "ok" or (row["status"] == "failed" and row["error"] in REASONS)
    to_table(rows)  # every row can be stored


def test_locations_that_are_not_utf8_give_rows_that_can_be_stored(tmp_path: Path) -> None:
    # A lone surrogate, as a JSON "\ud800" escape decodes, handed straight to the stages (the
    # fuzzer above found this one); and the name of a missing file that is not UTF-8.
    odd = os.fsdecode(bytes(tmp_path) + b"/gone-\xff.jpg")
    records = [SourceRecord(0, "\ud800"), SourceRecord(1, odd, caption="caption \udcff")]
    rows = prepare_records(records, "key", OPTIONS)
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert rows[0]["source"] == "?"
    assert rows[1]["source"].endswith("/gone-?.jpg") and rows[1]["caption"] == "caption ?"
    assert rows[0]["doc_id"] == document_id("\ud800")  # the id of the exact text
    stored = to_table(rows).to_pylist()
    assert [row["error_detail"] for row in stored] == [row["error_detail"] for row in rows]


def test_a_folder_file_whose_name_is_not_utf8_is_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / os.fsdecode(b"ok-\xff.jpg")).write_bytes(textured_jpeg(2))
    (folder / os.fsdecode(b"ok-\xff.txt")).write_bytes(b"a caption")
    records = list(Source((str(folder),)).records())
    rows = prepare_records(records, "key", OPTIONS)
    assert [row["status"] for row in rows] == ["ok"]
    assert rows[0]["source"] == f"{folder.resolve().as_posix()}/ok-?.jpg"
    assert rows[0]["caption"] == "a caption"
    assert to_table(rows).num_rows == 1
