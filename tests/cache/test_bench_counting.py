"""The false-hit bench counts as its docstring says (its numbers are in docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

from bench.cache.pairs import Pair, load_pairs
from bench.cache.run import Row, choose, table_rows


def test_readers_take_sts_mrpc_and_question_pair_files(tmp_path: Path) -> None:
    sts = tmp_path / "sts-test.csv"
    sts.write_text("g\tf\ty\t1\t4.200\tA cat sits.\tA cat is sitting.\ng\tf\ty\t2\t1.0\tA\tB\n")
    mrpc = tmp_path / "msr_paraphrase_test.txt"
    mrpc.write_text('Quality\t#1\t#2\t#1 S\t#2 S\n1\t1\t2\t"x \t y"\tx, y\n')
    qqp = tmp_path / "pairs.tsv"
    qqp.write_text("id\tquestion1\tquestion2\tis_duplicate\n1\tHi?\tHello?\t1\n")
    assert load_pairs(sts) == [
        Pair("A cat sits.", "A cat is sitting.", True),
        Pair("A", "B", False),
    ]
    assert load_pairs(mrpc) == [Pair("x , y", "x, y", True)]
    assert load_pairs(qqp) == [Pair("Hi?", "Hello?", True)]


def test_hits_are_counted_per_threshold_and_split_by_verdict() -> None:
    rows = {
        r.threshold: r for r in table_rows([(0.99, "correct"), (0.97, "wrong"), (0.5, "other")], 2)
    }
    assert (rows[0.95].hits, rows[0.95].correct, rows[0.95].wrong) == (2, 1, 1)
    assert rows[0.95].wrong_share == 0.5 and rows[0.95].hit_rate == 0.5
    assert (rows[0.98].hits, rows[0.98].wrong) == (1, 0)


def test_the_chosen_threshold_keeps_every_higher_one_within_the_limit() -> None:
    rows = [
        Row(0.90, 100, 10, 10, 9, 1),  # 10% wrong
        Row(0.95, 100, 10, 50, 50, 0),
        Row(0.97, 100, 10, 20, 19, 1),  # 5% wrong: 0.95 is not chosen though it is clean
        Row(0.99, 100, 10, 5, 5, 0),
    ]
    assert choose(rows, 0.02).threshold == 0.99
