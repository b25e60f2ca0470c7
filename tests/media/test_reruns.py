"""Rerunning the same command over a grown or changed source ingests exactly what is new or
changed, keyed by identity, never by position."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.ingest import IngestReport, ingest
from flightdeck.media.sources import open_source
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import textured_jpeg
from tests.media.test_ingest import OPTIONS


def run(source: Path, store: Path) -> IngestReport:
    engine = LocalEngine(1)
    try:
        return ingest(
            open_source([str(source)]), MediaStore.open_writer(str(store)), OPTIONS, engine
        )
    finally:
        engine.close()


def stored(store: Path) -> dict[str, dict[str, Any]]:
    opened = MediaStore.open(str(store))
    assert opened.verify() == []
    rows = opened.read_all().to_pylist()
    assert len({r["doc_id"] for r in rows}) == len(rows), "a document is stored twice"
    return {Path(r["source"]).name: r for r in rows}


def test_a_grown_folder_ingests_exactly_the_new_photos_with_their_captions(
    image_folder: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run(image_folder, store).documents == 5
    for i in (5, 6):
        (image_folder / f"img{i}.jpg").write_bytes(textured_jpeg(50 + i))
        (image_folder / f"img{i}.txt").write_text(f"new photo {i}")
    report = run(image_folder, store)
    assert (report.inputs_new, report.inputs_unchanged, report.documents) == (2, 5, 2)
    rows = stored(store)
    assert len(rows) == 7
    assert [rows[f"img{i}.jpg"]["caption"] for i in (5, 6)] == ["new photo 5", "new photo 6"]


def test_changed_photos_and_captions_replace_their_rows(image_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run(image_folder, store)
    before = stored(store)
    (image_folder / "img2.jpg").write_bytes(textured_jpeg(99, (400, 300)))
    (image_folder / "img3.txt").write_text("a caption added later")
    (image_folder / "img1.jpg").unlink()  # removed from the source: kept in the store
    report = run(image_folder, store)
    assert (report.inputs_changed, report.inputs_unchanged, report.inputs_new) == (2, 2, 0)
    rows = stored(store)
    assert len(rows) == 5
    assert rows["img2.jpg"]["sha256"] != before["img2.jpg"]["sha256"]
    assert rows["img2.jpg"]["status"] == "ok"  # not a duplicate of its own old version
    assert (rows["img2.jpg"]["width"], rows["img3.jpg"]["caption"]) == (
        400,
        "a caption added later",
    )
    assert rows["img4.jpg"] == before["img4.jpg"]
    again = run(image_folder, store)
    assert (again.documents, again.inputs_unchanged) == (0, 4)


def test_a_reordered_manifest_with_a_row_inserted_plans_only_that_row(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"p{i}.jpg").write_bytes(textured_jpeg(70 + i))
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps({"url": f"p{i}.jpg", "caption": f"photo {i}"}) for i in range(5)]
    manifest.write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    run(manifest, store)
    lines.insert(2, json.dumps({"url": "p5.jpg", "caption": "inserted"}))
    manifest.write_text("\n".join(reversed(lines)) + "\n")
    report = run(manifest, store)
    assert (report.inputs_new, report.inputs_unchanged, report.documents) == (1, 5, 1)
    assert stored(store)["p5.jpg"]["caption"] == "inserted"


def test_a_repeated_input_is_written_once_and_stays_put(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(textured_jpeg(80))
    manifest = tmp_path / "m.csv"
    manifest.write_text("url,caption\na.jpg,first\nb.jpg,other\na.jpg,second\n")
    store = tmp_path / "store"
    first = run(manifest, store)
    assert (first.documents, first.already_present) == (2, 1)
    for _ in range(2):  # no flip-flop between the two captions
        report = run(manifest, store)
        assert (report.documents, report.inputs_unchanged, report.already_present) == (0, 2, 1)
    assert stored(store)["a.jpg"]["caption"] == "first"


def test_the_command_line_says_what_a_rerun_found(image_folder: Path, tmp_path: Path) -> None:
    args = [str(image_folder), "--out", str(tmp_path / "s"), "--no-text-embeddings"]
    args += ["--workers", "1"]
    command = [sys.executable, "-m", "flightdeck", "media", "ingest", *args]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    (image_folder / "img9.jpg").write_bytes(textured_jpeg(9))
    os.utime(image_folder / "img0.jpg", ns=(1, 1))  # touched: size and mtime differ
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for what, count in (("new inputs", 1), ("changed inputs", 1), ("unchanged", 4)):
        assert re.search(rf"{what}[^│]*│ +{count} │", done.stderr), done.stderr
    assert "6/6 inputs" in done.stderr
