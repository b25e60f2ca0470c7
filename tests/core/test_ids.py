"""Hot-path ids: unique within a process, across forked children, and uuid-shaped."""

from __future__ import annotations

import multiprocessing
import re

from flightdeck.core.ids import unique_id


def _ids(n: int) -> list[str]:
    return [unique_id() for _ in range(n)]


def test_ids_are_unique_ordered_hex() -> None:
    ids = _ids(10_000)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_forked_children_do_not_repeat_the_parent() -> None:
    unique_id()  # the parent has started counting
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(_ids, [1000, 1000])
    mine = set(_ids(1000))
    assert not mine & set(children[0])
    assert not set(children[0]) & set(children[1])
