"""Labelled sentence pairs for the false-hit bench, read from public paraphrase data sets.

Formats, told apart by name (the bench takes paths; the data is never committed):
- STS Benchmark (``sts-*.csv``, Cer et al. 2017): tab-separated, score 0-5 in column 5,
  sentences in columns 6-7. Same meaning: score >= 4 ("mostly equivalent"); below it the
  pair is taken as different, so a hit on it counts as wrong (strict on purpose).
- SemEval STS 2016 (``*.input.*.txt`` with its ``*.gs.*.txt`` beside it): same scale.
- MRPC (``msr_paraphrase_*.txt``, Dolan and Brockett 2005): ``Quality`` 1 = paraphrase.
- Quora Question Pairs and the like: a header with ``question1``, ``question2`` and
  ``is_duplicate`` (tab or comma separated).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

SAME_MEANING_SCORE = 4.0


@dataclass(frozen=True)
class Pair:
    stored: str
    query: str
    same: bool


def load_pairs(path: Path) -> list[Pair]:
    name = path.name
    if name.startswith("sts-") or name.startswith("stsb-"):
        return _sts_benchmark(path)
    if ".input." in name:
        return _sts_semeval(path)
    if name.startswith("msr_paraphrase"):
        return _mrpc(path)
    return _question_pairs(path)


def _sts_benchmark(path: Path) -> list[Pair]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            pairs.append(Pair(cols[5], cols[6], float(cols[4]) >= SAME_MEANING_SCORE))
    return pairs


def _sts_semeval(path: Path) -> list[Pair]:
    gold = path.with_name(path.name.replace(".input.", ".gs."))
    scores = gold.read_text(encoding="utf-8").splitlines()
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = []
    for line, score in zip(lines, scores, strict=False):
        cols = line.split("\t")
        if score.strip() and len(cols) >= 2:
            pairs.append(Pair(cols[0], cols[1], float(score) >= SAME_MEANING_SCORE))
    return pairs


def _mrpc(path: Path) -> list[Pair]:
    # Some copies lost the commas inside quoted sentences to tabs; the csv module reads them.
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter="\t")
    next(reader)
    pairs = []
    for row in reader:
        if len(row) >= 5:
            first, second = row[3].replace("\t", ","), row[4].replace("\t", ",")
            pairs.append(Pair(first, second, row[0].strip() == "1"))
    return pairs


def _question_pairs(path: Path) -> list[Pair]:
    text = path.read_text(encoding="utf-8")
    delimiter = "\t" if text.split("\n", 1)[0].count("\t") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [
        Pair(row["question1"], row["question2"], row["is_duplicate"].strip() == "1")
        for row in reader
        if row.get("question1") and row.get("question2")
    ]
