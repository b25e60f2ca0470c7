# ruff: noqa: RUF001 - Chinese text keeps its own punctuation
"""What the offline extractive model quotes, through the assistant's real context path
(extract, chunk, rank, budget, prompt template): whole sentences, never a heading glued to one,
the passage the question's words title, and distinct summaries and key points."""

from __future__ import annotations

import re

import pytest

from flightdeck.assistant.citations import CitationChecker
from flightdeck.assistant.context import build_context, process_page
from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.prompts import versions
from flightdeck.core.settings import AssistantSettings
from flightdeck.providers.local_extractive import answer

OTTERS = """<html><body><article><h1>Sea otters</h1>
<h2>Sea otters</h2><p>Sea otters use rocks as tools to crack open shellfish.
They keep a favourite rock in a pouch of skin.</p>
<h2>Research</h2><p>Dr. James Estes studied otters in Alaska for forty years.
His work showed that otters protect kelp forests by eating sea urchins.</p>
<h2>Diet</h2><p>Shellfish, crabs and urchins make up most of what they eat.
An adult needs a quarter of its weight in food every day.</p>
<h2>Rest</h2><p>Sea otters sleep floating on their backs, often holding hands.
A sleeping group of otters is called a raft.</p>
<h2>What to watch for</h2><ul><li>Otters grooming their fur</li>
<li>Otters cracking shells on their chests</li><li>Pups riding on their mother</li></ul>
</article></body></html>"""


async def ask(question: str, mode: str = "chat", html: str = OTTERS, prompt: str = "") -> str:
    page = process_page(PageInput("https://otters.test/", "", html=html), 0)
    context = await build_context(
        question,
        mode,  # type: ignore[arg-type]
        [page],
        [],
        settings=AssistantSettings(embeddings=False),
        model="local/extractive",
        prompt=prompt or None,
        encoder=None,
    )
    checker = CitationChecker({s.n for s in context.sources}, context.boundary)
    shown, _ = checker.feed(answer(context.messages))
    return shown + checker.finish()[0]


def quotes(text: str) -> list[str]:
    return [re.sub(r"^- ", "", q.strip()) for q in re.split(r"\s*\[\d+\]", text) if q.strip()]


@pytest.mark.parametrize("prompt", versions())
async def test_headings_are_never_glued_to_a_sentence(prompt: str) -> None:
    text = await ask("How do sea otters use rocks?", prompt=prompt)
    assert text.startswith("Sea otters use rocks as tools to crack open shellfish. [")
    assert "Sea otters Sea otters" not in text


async def test_a_sentence_is_not_cut_at_an_abbreviation() -> None:
    text = await ask("Who studied otters in Alaska?")
    assert "Dr. James Estes studied otters in Alaska for forty years. [" in text
    assert not any(q.endswith("Dr.") for q in quotes(text))


async def test_the_passage_titled_with_the_questions_words_is_quoted() -> None:
    text = await ask("What is the diet of sea otters?")
    assert quotes(text)[0] == "Shellfish, crabs and urchins make up most of what they eat."
    assert "rocks as tools" not in text  # "sea otters" alone is everywhere: off topic


async def test_a_list_is_quoted_whole() -> None:
    text = await ask("What should I watch for?")
    assert quotes(text) == [
        "Otters grooming their fur",
        "Otters cracking shells on their chests",
        "Pups riding on their mother",
    ]


async def test_summarize_and_key_points_differ() -> None:
    summary = await ask("", "summarize")
    points = await ask("", "key_points")
    assert summary != points
    assert not summary.startswith("- ")
    assert all(line.startswith("- ") for line in points.splitlines())
    assert len(quotes(points)) > len(quotes(summary))
    sections = ["rock", "Estes|kelp", "Shellfish|quarter", "sleep|raft", "Otters grooming|Pups"]
    covered = [s for s in sections if any(re.search(s, q) for q in quotes(points))]
    assert covered == sections  # a point from every section, not the first few sentences


async def test_chinese_sentences_are_quoted_one_by_one() -> None:
    page = (
        "<html><body><article><h2>食性</h2><p>竹子占大熊猫食物的百分之九十九。"
        "一只成年大熊猫每天要吃十二到三十八公斤竹子。</p><h2>繁殖</h2>"
        "<p>刚出生的熊猫幼崽只有一百克左右。幼崽六到八周后才睁开眼睛。</p></article></body></html>"
    )
    text = await ask("大熊猫每天吃多少竹子？", html=page)
    assert "一只成年大熊猫每天要吃十二到三十八公斤竹子。" in quotes(text)
    assert "幼崽" not in text
