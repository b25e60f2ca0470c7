# ruff: noqa: E501 - hand-written article text reads best unwrapped
"""Labelled questions for the offline extractive model: pages with hand-split sentences.

Each page is a title and sections (heading, blocks); a block is a paragraph given as its
sentences, split by hand, or a list item. Each question names the heading of the section that
answers it and a phrase the answer must quote. The six articles of the extraction set
(``articles.py``, no abbreviations in them) are split at sentence ends; three pages written for
this set carry what broke answers in the field: abbreviations ("Dr.", "U.S.", "a.m."), a
heading repeating the title, sections whose heading holds the question's words while other
sections repeat its other words, and list items. Hand-written; used by
``python -m bench.assistant.answers``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bench.assistant.articles import ARTICLES


@dataclass(frozen=True)
class Block:
    sentences: tuple[str, ...]
    item: bool = False  # a list item


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]

    @property
    def sentences(self) -> list[str]:
        return [s for b in self.blocks for s in b.sentences]


@dataclass(frozen=True)
class Page:
    title: str
    sections: tuple[Section, ...]

    def html(self) -> str:
        out = [f"<h1>{html.escape(self.title)}</h1>"]
        for section in self.sections:
            if section.heading:
                out.append(f"<h2>{html.escape(section.heading)}</h2>")
            items = [b for b in section.blocks if b.item]
            for block in section.blocks:
                if not block.item:
                    out.append(f"<p>{html.escape(' '.join(block.sentences))}</p>")
            if items:
                out.append(
                    "<ul>"
                    + "".join(f"<li>{html.escape(b.sentences[0])}</li>" for b in items)
                    + "</ul>"
                )
        return f"<html><head><title>{html.escape(self.title)}</title></head><body><article>{''.join(out)}</article></body></html>"

    def sentences(self) -> set[str]:
        return {s for section in self.sections for s in section.sentences}


@dataclass(frozen=True)
class Question:
    page: str  # a page title
    question: str
    section: str  # heading of the answering section ("" = the untitled opening)
    expect: str  # a phrase the answer must contain


def _p(*sentences: str) -> Block:
    return Block(tuple(sentences))


def _li(text: str) -> Block:
    return Block((text,), item=True)


WRITTEN: list[Page] = [
    Page(
        "Jane Goodall at Gombe",
        (
            Section(
                "",
                (
                    _p(
                        "Dr. Jane Goodall began studying wild chimpanzees at Gombe Stream in Tanzania in July 1960.",
                        "She was twenty-six and had no university degree at the time.",
                    ),
                ),
            ),
            Section(
                "Mentor",
                (
                    _p(
                        "Her mentor, Dr. Louis Leakey, believed that studying great apes would shed light on early humans.",
                        "He found the money for her first six months in the forest.",
                    ),
                ),
            ),
            Section(
                "Tools",
                (
                    _p(
                        "In November 1960 she watched a chimpanzee strip leaves from a twig and use it to fish termites out of a mound.",
                        "Until then, only humans were thought to make tools.",
                    ),
                ),
            ),
            Section(
                "Legacy",
                (
                    _p(
                        "The Gombe study is now the longest-running field study of any wild animal species.",
                        "Researchers from the U.S. and Tanzania still record the chimpanzees' lives every day, starting at 6 a.m. each morning.",
                    ),
                ),
            ),
        ),
    ),
    Page(
        "Giant pandas",
        (
            Section(
                "Giant pandas",
                (_p("Giant pandas are bears that live in the mountains of central China."),),
            ),
            Section(
                "Diet",
                (
                    _p(
                        "Bamboo makes up ninety-nine percent of what they eat.",
                        "An adult eats between twelve and thirty-eight kilograms of it every day.",
                    ),
                ),
            ),
            Section(
                "Habitat",
                (
                    _p(
                        "Wild pandas live in cool, wet bamboo forests at altitudes between 1,200 and 3,400 metres.",
                        "Roads and farms have split their forests into small islands, and a panda may not find a mate in its own patch.",
                    ),
                ),
            ),
            Section(
                "Zoos",
                (
                    _p(
                        "Pandas in zoos are fed bamboo, apples and a special high-fibre biscuit.",
                        "Keepers weigh every panda each week and record how much it eats.",
                    ),
                ),
            ),
        ),
    ),
    Page(
        "Packing for a day hike",
        (
            Section(
                "",
                (
                    _p(
                        "A day hike needs less gear than a camping trip, but a few things should always be in the pack."
                    ),
                ),
            ),
            Section(
                "What to bring",
                (
                    _li("Two litres of water per person"),
                    _li("A map and a charged phone"),
                    _li("A warm layer and a rain jacket"),
                    _li("Snacks with salt and sugar"),
                ),
            ),
            Section(
                "Timing",
                (
                    _p(
                        "Start early, so that the hike ends well before sunset.",
                        "In summer, set off by 8 a.m. to avoid the afternoon heat and thunderstorms.",
                    ),
                ),
            ),
        ),
    ),
]


def _article_page(title: str, items: list[tuple[str, str]]) -> Page:
    sections: list[Section] = []
    heading, blocks = "", []
    for kind, text in items:
        if kind == "h":
            sections.append(Section(heading, tuple(blocks)))
            heading, blocks = text, []
        elif kind == "li":
            blocks.append(_li(text))
        else:
            blocks.append(_p(*re.split(r"(?<=[.!?])\s+", text)))
    sections.append(Section(heading, tuple(blocks)))
    return Page(title, tuple(s for s in sections if s.blocks))


PAGES: list[Page] = WRITTEN + [_article_page(title, items) for title, items in ARTICLES]
PAGE_BY_TITLE = {p.title: p for p in PAGES}

QUESTIONS: list[Question] = [
    Question("Jane Goodall at Gombe", "Who was Goodall's mentor?", "Mentor", "Dr. Louis Leakey"),
    Question(
        "Jane Goodall at Gombe",
        "Who paid for her first months in the forest?",
        "Mentor",
        "found the money",
    ),
    Question(
        "Jane Goodall at Gombe", "What did the chimpanzees use as tools?", "Tools", "fish termites"
    ),
    Question(
        "Jane Goodall at Gombe", "When do researchers start recording each day?", "Legacy", "6 a.m."
    ),
    Question("Jane Goodall at Gombe", "When did Goodall begin her study?", "", "July 1960"),
    Question(
        "Giant pandas", "What is the panda's diet?", "Diet", "Bamboo makes up ninety-nine percent"
    ),
    Question("Giant pandas", "What is the habitat of pandas?", "Habitat", "bamboo forests"),
    Question("Giant pandas", "What do zoos feed pandas?", "Zoos", "high-fibre biscuit"),
    Question(
        "Packing for a day hike", "What should I bring?", "What to bring", "Two litres of water"
    ),
    Question("Packing for a day hike", "When should I start?", "Timing", "Start early"),
    Question(
        "How lighthouses got their lenses",
        "Who invented the lighthouse lens?",
        "",
        "Augustin Fresnel",
    ),
    Question(
        "How lighthouses got their lenses",
        "What are the orders of lenses?",
        "Orders of lenses",
        "sizes called orders",
    ),
    Question(
        "A beginner's guide to sourdough starters",
        "How do I make a starter from scratch?",
        "Starting from scratch",
        "Mix equal weights",
    ),
    Question(
        "A beginner's guide to sourdough starters",
        "How often should a refrigerated starter be fed?",
        "Keeping it alive",
        "once a week",
    ),
    Question(
        "Why the city is planting micro forests",
        "How much will maintenance cost?",
        "",
        "forty thousand dollars",
    ),
    Question(
        "Why the city is planting micro forests",
        "Where will the first forests be planted?",
        "",
        "near the river",
    ),
    Question(
        "Understanding database indexes",
        "What is the cost of an index?",
        "The cost of an index",
        "only slows writes down",
    ),
    Question(
        "Understanding database indexes",
        "How do databases store B-tree indexes?",
        "B-tree indexes",
        "balanced trees",
    ),
    Question(
        "The long migration of the arctic tern",
        "How far can a tern fly in a year?",
        "",
        "seventy thousand kilometres",
    ),
    Question(
        "The long migration of the arctic tern", "How long do terns live?", "", "thirty years"
    ),
    Question(
        "Repairing a dripping tap",
        "What do you need to fix a tap?",
        "What you need",
        "adjustable spanner",
    ),
    Question(
        "Repairing a dripping tap", "What are the steps?", "Steps", "Turn off the water supply"
    ),
]
