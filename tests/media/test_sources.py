"""Reading SOURCE and planning shards, streamed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.errors import SourceError
from flightdeck.media.ingest import ingest
from flightdeck.media.plan import PlanCounts, StoredInputs, plan_shards
from flightdeck.media.sources import canonical_location, document_id, open_source
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import textured_jpeg
from tests.media.test_ingest import OPTIONS

ROWS = [
    {"url": "http://example.com/a.jpg", "caption": "a cat", "license": "cc-by"},
    {"url": "http://example.com/b.jpg", "caption": "a dog", "license": "cc0"},
]


def _write(path: Path, kind: str) -> Path:
    if kind == "csv":
        path.write_text(
            "url,caption,license\n"
            + "".join(f"{r['url']},{r['caption']},{r['license']}\n" for r in ROWS)
        )
    elif kind == "tsv":
        path.write_text(
            "url\tcaption\tlicense\n"
            + "".join(f"{r['url']}\t{r['caption']}\t{r['license']}\n" for r in ROWS)
        )
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet"])
def test_every_manifest_format_reads_the_same_records(tmp_path: Path, kind: str) -> None:
    source = open_source([str(_write(tmp_path / f"m.{kind}", kind))])
    records = list(source.records())
    assert [r.location for r in records] == [r["url"] for r in ROWS]
    assert [r.caption for r in records] == ["a cat", "a dog"]
    assert json.loads(records[0].metadata) == {"license": "cc-by"}
    assert [r.index for r in records] == [0, 1]


def test_manifest_without_url_column_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("link,caption\nx,y\n")
    with pytest.raises(SourceError, match="no URL or path column"):
        list(open_source([str(path)]).records())


def test_explicit_columns_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("link,alt\npics/x.jpg,hello\n")
    (record,) = open_source([str(path)], url_column="link", caption_column="alt").records()
    assert record.location == str(tmp_path / "pics" / "x.jpg")
    assert record.caption == "hello"


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source([str(tmp_path / "nope.csv")])


def test_folder_lists_images_in_stable_order(image_folder: Path) -> None:
    records = list(open_source([str(image_folder)]).records())
    assert [Path(r.location).name for r in records] == [f"img{i}.jpg" for i in range(5)]


def test_folder_sidecar_text_files_are_captions(image_folder: Path) -> None:
    (image_folder / "img1.txt").write_text("  a red kite over the dunes\n")
    (image_folder / "img3.txt").write_bytes(b"")  # empty: no caption
    (image_folder / "notes.txt").write_text("not next to any image")
    records = list(open_source([str(image_folder)]).records())
    assert [r.caption for r in records] == [None, "a red kite over the dunes", None, None, None]


def test_document_id_is_stable_over_equivalent_urls() -> None:
    assert canonical_location("HTTP://Example.COM:80/a.jpg#frag") == "http://example.com/a.jpg"
    assert document_id("http://example.com/a.jpg") == document_id("http://EXAMPLE.com/a.jpg#x")
    assert document_id("http://example.com/a.jpg") != document_id("http://example.com/b.jpg")
    assert len(document_id("/tmp/x.jpg")) == 32


_PLAN_SCRIPT = """
import sys
from flightdeck.media.plan import PlanCounts, StoredInputs, plan_shards
from flightdeck.media.sources import open_source

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

source = open_source([sys.argv[1]])
next(iter(source.records()))  # imports and first block loaded: the baseline
baseline = rss("VmRSS:")
shards = rows = 0
last = ""
for task in plan_shards(source, 10_000, StoredInputs(), set(), PlanCounts()):
    shards += 1
    rows += len(task.records)
    last = task.records[-1].location
print(shards, rows, last, rss("VmHWM:") - baseline)
"""


@pytest.mark.slow
def test_million_row_manifest_is_planned_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("url,caption\n")
        for start in range(0, 1_000_000, 100_000):
            out.write(
                "".join(
                    f"https://img.example.com/{i}.jpg,photo number {i}\n"
                    for i in range(start, start + 100_000)
                )
            )
    size = path.stat().st_size
    done = subprocess.run(
        [sys.executable, "-c", _PLAN_SCRIPT, str(path)], capture_output=True, text=True, check=True
    )
    shards, rows, last, growth = done.stdout.split()
    assert (int(shards), int(rows)) == (100, 1_000_000)
    assert last.endswith("/999999.jpg")
    # Holding every record takes about 5x the file size (measured: 272 MB for 55 MB);
    # planning holds one shard and a few parse blocks.
    assert int(growth) < size, f"planning grew by {growth} bytes for a {size}-byte manifest"


def test_stored_unchanged_inputs_are_skipped_and_changed_ones_planned(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"url": f"http://x.com/{i}.jpg"}) + "\n" for i in range(25)))
    source = open_source([str(path)])
    tasks = list(plan_shards(source, 10, StoredInputs(), set(), PlanCounts()))
    assert [len(t.records) for t in tasks] == [10, 10, 5]
    stored = StoredInputs()
    for task in tasks[:2]:  # the first two shards were committed, then the run stopped
        for record in task.records:
            stored.add(record.doc_id, record.fingerprint, task.name)
    edited = json.dumps({"url": "http://x.com/3.jpg", "caption": "now captioned"})
    lines = path.read_text().splitlines()
    lines[3] = edited
    path.write_text("\n".join(reversed(lines)) + "\n")  # reordered too
    counts = PlanCounts()
    names = [t.name for t in tasks]
    (rest,) = plan_shards(open_source([str(path)]), 10, stored, set(), counts, names[:2])
    assert rest.name == names[2]  # numbered after the stored shards
    assert sorted(r.location for r in rest.records) == sorted(
        [f"http://x.com/{i}.jpg" for i in range(20, 25)] + ["http://x.com/3.jpg"]
    )
    assert rest.replaces == (document_id("http://x.com/3.jpg"),)
    assert (counts.inputs_new, counts.inputs_changed, counts.inputs_unchanged) == (5, 1, 19)


def _tricky_csv(path: Path, rows: int, delimiter: str = ",") -> list[tuple[str, str]]:
    """A valid RFC 4180 file whose quoted captions hold line breaks, delimiters and quotes."""
    expected = []
    with path.open("w", newline="") as out:
        out.write(f"url{delimiter}caption{delimiter}license\r\n")
        for i in range(rows):
            caption = f'photo {i}\nsecond line{delimiter} with "quotes"\r\nthird' if i % 3 else ""
            quoted = '"' + caption.replace('"', '""') + '"' if caption else ""
            out.write(f"http://x.com/{i}.jpg{delimiter}{quoted}{delimiter}cc0\r\n")
            expected.append((f"http://x.com/{i}.jpg", caption))
    return expected


@pytest.mark.parametrize(("suffix", "delimiter"), [(".csv", ","), (".tsv", "\t")])
def test_quoted_line_breaks_stream_at_any_file_size(
    tmp_path: Path, suffix: str, delimiter: str
) -> None:
    path = tmp_path / f"m{suffix}"
    expected = _tricky_csv(path, 24_000, delimiter)
    assert path.stat().st_size > 1_400_000
    records = list(open_source([str(path)]).records())
    assert [(r.location, r.caption or "") for r in records] == expected
    assert all(r.problem is None for r in records)
    assert {r.metadata for r in records} == {'{"license": "cc0"}'}


def test_malformed_rows_are_records_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(
        b'url,caption\n"a.jpg","two\nlines"\nb.jpg,x,extra\nc.jpg\n'
        + b"big.jpg,"
        + b"y" * 200_000
        + b'\n\xff\xfe.jpg,latin-1 bytes\n"d.jpg"x,bad quote\ne.jpg,fine\n"f.jpg,"open\n'
    )
    records = list(open_source([str(path)]).records())
    problems = {r.index: r.problem for r in records if r.problem}
    assert [r.index for r in records] == list(range(8))
    assert records[0].caption == "two\nlines" and records[6].location.endswith("e.jpg")
    assert problems[1].startswith("line 4: 3 fields") and problems[2].startswith("line 5: 1 ")
    assert problems[3].startswith("line 6: field larger than field limit")
    assert records[4].location.endswith("\ufffd\ufffd.jpg") and records[4].problem is None
    assert problems[5].startswith("line 8: ") and problems[7].startswith("line 10: ")
    assert records[1].location == f"{path}#line=4"


def test_a_store_gets_a_failure_row_for_each_malformed_row(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(textured_jpeg(1))
    path = tmp_path / "m.csv"
    path.write_text('url,caption\na.jpg,"a\nkite"\nb.jpg,x,y\n')
    engine = LocalEngine(1)
    try:
        store = MediaStore.open_writer(str(tmp_path / "s"))
        ingest(open_source([str(path)]), store, OPTIONS, engine)
    finally:
        engine.close()
    rows = MediaStore.open(str(tmp_path / "s")).read_all().to_pylist()
    assert [(r["status"], r["error"], r["caption"]) for r in rows] == [
        ("ok", None, "a\nkite"),
        ("failed", "bad_manifest_row", None),
    ]
    assert rows[1]["error_detail"] == "line 4: 3 fields, the header has 2"
