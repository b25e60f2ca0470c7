"""The local engine splits each shard across its workers and hands rows back in input order."""

from __future__ import annotations

from pathlib import Path

from flightdeck.media.engines.local import MIN_PART, LocalEngine, split
from flightdeck.media.options import FeatureOptions, FetchOptions, IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.sources import SourceRecord
from tests.media.conftest import textured_jpeg


def task(n: int, folder: str = "/nowhere") -> ShardTask:
    records = tuple(SourceRecord(i, f"{folder}/img{i}.jpg") for i in range(n))
    return ShardTask("abc", 0, records)


def test_split_keeps_order_and_covers_every_record() -> None:
    whole = task(1000)
    parts = split(whole, 3)
    assert [len(p.records) for p in parts] == [334, 334, 332]
    assert [r for p in parts for r in p.records] == list(whole.records)
    assert {(p.source_key, p.index) for p in parts} == {("abc", 0)}


def test_small_shards_stay_whole() -> None:
    assert split(task(MIN_PART), 4) == [task(MIN_PART)]
    assert [len(p.records) for p in split(task(MIN_PART * 2 + 1), 8)] == [32, 32, 1]


def test_a_split_shard_comes_back_whole_and_in_order(tmp_path: Path) -> None:
    for i in range(2 * MIN_PART + 5):
        (tmp_path / f"img{i}.jpg").write_bytes(textured_jpeg(i))
    options = IngestOptions(
        fetch=FetchOptions(local_paths=True), features=FeatureOptions(text_embeddings=False)
    )
    engine = LocalEngine(workers=2)
    whole = task(2 * MIN_PART + 5, str(tmp_path))
    assert len(split(whole, 2)) == 2
    try:
        ((done, rows),) = list(engine.run(iter([whole]), options))
    finally:
        engine.close()
    assert done.index == 0
    assert [r["input_index"] for r in rows] == list(range(2 * MIN_PART + 5))
    assert all(r["status"] == "ok" for r in rows), {r["error"] for r in rows}
