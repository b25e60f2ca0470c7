"""Prompt templates: versioned files in ``prompts/``, rendered in a sandboxed Jinja2.

A version ``grounded-v1`` is the file ``prompts/grounded-v1.system.j2``. Versions are chosen
per model group (``[assistant.models."<group>"] prompt = "..."``) or per request by an
experiment variant. Everything that comes from a page (passage text, title, URL) reaches the
template only datamarked (``spotlight.datamark``) and without the request's fence boundary;
every template must place it inside the fence (``tests/assistant/test_prompts.py`` checks
each template file in ``prompts/`` in every mode).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flightdeck.assistant.pages import Passage
from flightdeck.assistant.spotlight import DATAMARK, datamark, defang
from flightdeck.core.errors import InvalidRequest

PROMPTS = Path(__file__).parent / "prompts"
SUFFIX = ".system.j2"
Mode = Literal["chat", "summarize", "key_points", "compare"]

TASKS: dict[str, str] = {
    "chat": "Answer the user's question about the pages.",
    "summarize": "Summarize the pages for the user in a short paragraph or two.",
    "key_points": "List the key points of the pages as short bullet points.",
    "compare": "Compare the pages: what they agree on, where they differ, and what only one says.",
}
DEFAULT_QUESTIONS: dict[str, str] = {
    "chat": "",
    "summarize": "Summarize this page.",
    "key_points": "What are the key points of this page?",
    "compare": "Compare these pages.",
}


@dataclass(frozen=True, slots=True)
class PromptPage:
    """One page as a prompt template sees it: number, title, URL and its passages."""

    number: int
    title: str
    url: str
    passages: list[tuple[int, Passage]]  # (citation number, passage)


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(PROMPTS),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def versions() -> list[str]:
    return sorted(p.name.removesuffix(SUFFIX) for p in PROMPTS.glob(f"*{SUFFIX}"))


def render_system_prompt(
    version: str, mode: Mode, pages: Sequence[PromptPage], boundary: str
) -> str:
    """The system message: rules, then every chosen passage, fenced and datamarked."""
    try:
        template = _environment().get_template(version + SUFFIX)
    except TemplateNotFound:
        known = ", ".join(versions())
        raise InvalidRequest(
            f"unknown prompt version {version!r} (known: {known})", param="prompt"
        ) from None
    context: dict[str, Any] = {
        "task": TASKS[mode],
        "boundary": boundary,
        "mark": DATAMARK,
        "pages": [
            {
                "number": page.number,
                "title": _mark(page.title, boundary),
                "url": _mark(page.url, boundary),
                "passages": [{"n": n, "text": _mark(p.text, boundary)} for n, p in page.passages],
            }
            for page in pages
        ],
    }
    return template.render(context).strip() + "\n"


def _mark(text: str, boundary: str) -> str:
    return datamark(defang(text, boundary))
