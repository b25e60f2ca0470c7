"""Extraction keeps the page's layout: code keeps its lines and indentation, block elements are
separate blocks, ``<br>`` is a line break, inline elements never split a word, and passage
offsets point exactly at the passage text (issue #12, item 4)."""

from __future__ import annotations

import pytest

from flightdeck.assistant.chunking import chunk
from flightdeck.assistant.extract import extract_html

FILLER = (
    "<p>Sea otters are marine mammals that live along the coasts of the North Pacific Ocean, "
    "where they dive for urchins, crabs and clams in the kelp forests near the shore.</p>"
    "<p>An otter can hold its breath for about five minutes and spends most of its life in "
    "the water, resting on its back and grooming its dense fur to stay warm.</p>"
)
CODE = "def area(r):\n    if r < 0:\n        raise ValueError(r)\n\n    return 3.14 * r * r"


def page(body: str, filler: bool) -> str:
    """``body`` inside an article; with ``filler``, long enough for trafilatura's main-text
    path, without it short enough for the block fallback."""
    more = FILLER if filler else ""
    article = f"<article>{more}{body}{more}</article>"
    return f"<html><head><title>T</title></head><body>{article}</body></html>"


PATHS = pytest.mark.parametrize("filler", [True, False], ids=["article", "short-page"])


def blocks(body: str, filler: bool) -> list[str]:
    return [b.text for b in extract_html(page(body, filler)).blocks]


@PATHS
def test_pre_code_keeps_line_breaks_and_indentation(filler: bool) -> None:
    got = blocks(f"<h2>Example</h2><pre><code>{CODE}\n</code></pre><p>After the code.</p>", filler)
    assert CODE in got
    assert "After the code." in got


@PATHS
def test_pre_without_code_keeps_its_layout(filler: bool) -> None:
    got = blocks("<p>Output:</p><pre>  total   42\n  items    7</pre>", filler)
    assert "  total   42\n  items    7" in got


@PATHS
def test_br_separated_lines_stay_lines(filler: bool) -> None:
    got = blocks("<p>12 Harbour Road<br>Monterey<br/>California</p>", filler)
    assert "12 Harbour Road\nMonterey\nCalifornia" in got


@PATHS
def test_inline_elements_do_not_split_words(filler: bool) -> None:
    body = (
        '<p>The <b>ot</b>ter <a href="/x">us</a>es <span>ro</span>cks and '
        "<em>shells</em> as <code>tools</code>.</p>"
    )
    assert "The otter uses rocks and shells as tools." in blocks(body, filler)


@PATHS
def test_nested_list_items_are_separate_blocks_without_repeats(filler: bool) -> None:
    body = (
        "<ul><li>Mammals<ul><li>Sea otters</li><li>Seals</li></ul></li>"
        "<li>Birds<ol><li>Gulls</li></ol></li></ul>"
    )
    got = blocks(body, filler)
    for item in ("Mammals", "Sea otters", "Seals", "Birds", "Gulls"):
        assert got.count(item) == 1, (item, got)
    assert got.index("Mammals") < got.index("Sea otters") < got.index("Birds")


@PATHS
def test_table_rows_are_blocks_and_cells_are_separated(filler: bool) -> None:
    body = (
        "<table><tr><th>Species</th><th>Weight</th></tr>"
        "<tr><td>Sea otter</td><td>30 kg</td></tr><tr><td>River otter</td><td>11 kg</td></tr>"
        "</table>"
    )
    got = blocks(body, filler)
    assert "Sea otter | 30 kg" in got
    assert "River otter | 11 kg" in got


@PATHS
def test_headings_quotes_definitions_and_divs_are_separate(filler: bool) -> None:
    body = (
        "<h2>Diet</h2><blockquote>Otters eat a quarter of their weight a day.</blockquote>"
        "<dl><dt>Raft</dt><dd>A group of otters floating together.</dd></dl>"
        "<div>First note</div><div>Second note</div>"
    )
    got = blocks(body, filler)
    for text in (
        "Diet",
        "Otters eat a quarter of their weight a day.",
        "Raft",
        "A group of otters floating together.",
        "First note",
        "Second note",
    ):
        assert text in got, (text, got)


SIBLINGS = {
    "code": "".join(
        f"<pre><code>{CODE.replace('area', f'area{i}')}</code></pre>" for i in range(9)
    ),
    "br-lines": "<p>"
    + "<br>".join(f"Line {i} of the poem about otters" for i in range(60))
    + "</p>",
    "table": "<table>"
    + "".join(f"<tr><td>Row {i}</td><td>{i * 3} kg</td><td>note {i}</td></tr>" for i in range(80))
    + "</table>",
    "nested-lists": "<ul>"
    + "".join(f"<li>Item {i}<ul><li>Sub {i}a</li><li>Sub {i}b</li></ul></li>" for i in range(40))
    + "</ul>",
    "long-paragraph": "<p>" + "Otters hold hands while they sleep. " * 120 + "</p>",
    "mixed": "<h2>Intro</h2><p>Para <b>bold</b> text.</p><blockquote>Quote<br>two</blockquote>"
    "<dl><dt>Term</dt><dd>Meaning</dd></dl>" * 20,
}


@pytest.mark.parametrize("name", sorted(SIBLINGS))
@PATHS
def test_passage_offsets_point_at_the_passage_text(name: str, filler: bool) -> None:
    extracted = extract_html(page(SIBLINGS[name], filler))
    passages = chunk(extracted)
    assert len(passages) >= 2, name
    text = extracted.text
    for p in passages:
        assert text[p.start : p.end] == p.text, (name, p.index)
