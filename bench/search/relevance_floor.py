"""Where to put search's relevance floor (``[search] min_score``): MiniLM cosines between the
test photos' captions and real queries (each should find its photo) and nonsense queries
(which should find nothing). Run: ``python -m bench.search.relevance_floor``.

The floor must sit below every real query's score for its own photo and above every nonsense
query's best score; the printout gives both sides and the gap between them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flightdeck.providers.local_embeddings import load_sentence_model

# The captions of the photos the tests ingest (tests/search/conftest.py PHOTOS and SECRETS,
# the README's tour) and of a few everyday photos.
CAPTIONS = [
    "a red sports car racing on a track",
    "a bowl of hot tomato soup with bread",
    "a cat sleeping on a sofa",
    "snowy mountains under a blue sky",
    "a sailboat on the ocean at sunset",
    "a golden crown in a museum vault",
    "an old map of a pirate island",
    "a red sunset over the sea",
    "a dog running on a sandy beach",
    "pine trees",
]
# (query, the caption it must find): paraphrases, single words, partial descriptions.
RELEVANT = [
    ("a kitten napping on a couch", "a cat sleeping on a sofa"),
    ("cat", "a cat sleeping on a sofa"),
    ("fast car", "a red sports car racing on a track"),
    ("race car", "a red sports car racing on a track"),
    ("soup", "a bowl of hot tomato soup with bread"),
    ("something to eat", "a bowl of hot tomato soup with bread"),
    ("mountain landscape in winter", "snowy mountains under a blue sky"),
    ("boat at dusk", "a sailboat on the ocean at sunset"),
    ("sailing", "a sailboat on the ocean at sunset"),
    ("treasure", "a golden crown in a museum vault"),
    ("king's crown", "a golden crown in a museum vault"),
    ("pirates", "an old map of a pirate island"),
    ("dog on the beach", "a dog running on a sandy beach"),
    ("puppy", "a dog running on a sandy beach"),
    ("forest", "pine trees"),
    ("evening sky over water", "a red sunset over the sea"),
]
NONSENSE = [
    "qwzx blorf",
    "xkcd qqq zzv",
    "asdfghjkl",
    "lorem ipsum dolor",
    "zxcv bnm",
    "fjdksl",
    "blorptang wuzzle",
    "1234 5678",
    "qwerty uiop",
    "grmbl fnord",
    "ppppp",
    "xyzzy plugh",
]


def cosines(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))


def measure() -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(each real query's cosine with its photo, each nonsense query's best cosine)."""
    model = load_sentence_model()
    photos = cosines(model, CAPTIONS)
    real = cosines(model, [q for q, _ in RELEVANT]) @ photos.T
    noise = cosines(model, NONSENSE) @ photos.T
    relevant = [(q, float(real[i, CAPTIONS.index(c)])) for i, (q, c) in enumerate(RELEVANT)]
    nonsense = [(q, float(noise[i].max())) for i, q in enumerate(NONSENSE)]
    return relevant, nonsense


def main() -> None:
    relevant, nonsense = measure()
    for q, s in sorted(relevant, key=lambda x: x[1]):
        print(f"real      {s:.3f}  {q}")
    for q, s in sorted(nonsense, key=lambda x: -x[1]):
        print(f"nonsense  {s:.3f}  {q}")
    low, high = min(s for _, s in relevant), max(s for _, s in nonsense)
    print(f"lowest real {low:.3f}, highest nonsense {high:.3f}, gap {low - high:.3f}")


if __name__ == "__main__":
    main()
