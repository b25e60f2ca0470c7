"""Hybrid search: captions (MiniLM) and CLIP text-to-image, fused by reciprocal rank."""

from __future__ import annotations

from pathlib import Path

from flightdeck.core.settings import SearchSettings
from flightdeck.media.options import FeatureOptions
from flightdeck.search.engine import SearchEngine, fuse
from flightdeck.search.query import SearchQuery
from tests.media.test_features import tiny_clip  # noqa: F401 (a tiny random CLIP, saved)
from tests.search.conftest import ingest_photos


def test_rank_fusion_rewards_agreement() -> None:
    hits = fuse({"text": [(1, 0.9), (2, 0.8), (3, 0.1)], "image": [(2, 0.5), (4, 0.4)]})
    assert [h.position for h in hits] == [2, 1, 4, 3]
    assert hits[0].scores == {"text": 0.8, "image": 0.5}
    assert hits[2].scores == {"image": 0.4}


async def test_clip_stores_are_searched_by_caption_and_image(
    tmp_path: Path,
    tiny_clip: Path,  # noqa: F811
) -> None:
    store = tmp_path / "media" / "clip"  # a tiny random CLIP: no relevance floor here
    photos = {
        1: ("a red sports car racing on a track", {}),
        2: ("a bowl of hot tomato soup with bread", {}),
        3: ("", {"note": "no caption: only CLIP can find it"}),
    }
    features = FeatureOptions(clip_model=str(tiny_clip), batch_size=4)
    assert ingest_photos(store, photos, "clip", features=features).ok == 3
    engine = SearchEngine(SearchSettings(clip_model=str(tiny_clip)), [str(tmp_path / "media")])
    try:
        snapshot, hits = await engine.search(
            str(store), SearchQuery("clip", "a fast car", k=10, min_score=-1)
        )
    finally:
        engine.close()
    assert set(snapshot.indexes) == {"text", "image"}
    assert snapshot.indexes["image"].index.dimensions == 16
    assert len(hits) == 3  # the uncaptioned image is found through CLIP
    captions = {snapshot.documents.caption[h.position]: h for h in hits}
    assert set(captions[None].scores) == {"image"}
    assert set(captions[photos[1][0]].scores) == {"text", "image"}
    # Without a CLIP model configured the same store is searched by captions only.
    plain = SearchEngine(SearchSettings(), [str(tmp_path / "media")])
    try:
        _, caption_hits = await plain.search(
            str(store), SearchQuery("clip", "a fast car", k=10, min_score=-1)
        )
    finally:
        plain.close()
    assert len(caption_hits) == 2
    assert all(set(h.scores) == {"text"} for h in caption_hits)
