"""The ``local-extractive`` provider: an honest offline chat model that only quotes.

Every message before the last user message is context, the last user message is the request.
It never invents text: each answer is sentences of the context, verbatim (datamarks removed),
each followed by the ``[n]`` of its passage when the context has numbered passages, so callers
can check citations (how the context is read: ``extractive_reading``). What it quotes depends
on the request:

- a question: sentences ranked by BM25 (their heading's words count, as a reader would take
  them), mixed with the BM25 rank of their whole passage, so the passage that the ranking puts
  first is the one quoted; sentences far below the best are left out rather than padded in;
- "summarize": about one sentence in four, the most central to the text (cosine to the tf-idf
  centroid, a bonus for leading their section: Radev et al., "Centroid-based summarization of
  multiple documents", 2004), from different sections, as a paragraph in reading order;
- "key points": one bullet per section, its most central sentence, in reading order; short
  texts get more (half their sentences), so the points always say more than the summary;
- "compare": for each page, its most central sentences, one line per page.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from flightdeck.core.settings import ModelDeployment
from flightdeck.core.tokens import count_message_tokens, count_tokens, message_text
from flightdeck.providers.base import SSE_DONE, ChatStream, Provider, UpstreamReply, sse_event
from flightdeck.providers.extractive_reading import Sentence, read_context
from flightdeck.text.bm25 import bm25_scores
from flightdeck.text.terms import terms

NO_CONTEXT = (
    "I am an offline extractive model: I answer only by quoting text given in the conversation, "
    "and no such text was given."
)
NO_MATCH = "The provided text does not appear to answer this question."

_SUMMARY = re.compile(
    r"\b(summari[sz]e|summary|overview|tl;?dr|gist)\b|\u603b\u7ed3|\u6458\u8981|\u6982\u62ec",
    re.IGNORECASE,
)
_KEY_POINTS = re.compile(
    r"\b(key|main) points?\b|\bbullet|\btakeaways?\b|\bhighlights\b|\u8981\u70b9", re.IGNORECASE
)
_COMPARE = re.compile(
    r"\bcompar(e|es|ing|ison)\b|\bdiffer(s|ence|ences)?\b|\bcontrast\b|\u6bd4\u8f83|\u5bf9\u6bd4",
    re.IGNORECASE,
)
PASSAGE_WEIGHT = 1.0  # the section's rank against the sentence's own, both scaled to [0, 1]
KEEP_RATIO = 0.6  # a sentence scoring well under the best one is off topic
LEAD_BONUS = 0.1  # first sentences of a section tend to state its point
MAX_KEY_POINTS = 6
MAX_LIST_ITEMS = 10


def answer(messages: list[dict[str, Any]], max_sentences: int = 3) -> str:
    """The model's reply to ``messages`` (OpenAI chat format); see the module docstring."""
    last_user = max(
        (i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages) - 1
    )
    request = message_text(messages[last_user].get("content"))
    context = "\n\n".join(message_text(m.get("content")) for m in messages[:last_user])
    sentences = read_context(context)
    if not sentences:
        return NO_CONTEXT
    if _KEY_POINTS.search(request):
        return "\n".join(f"- {_cite(s)}" for s in key_points(sentences, MAX_KEY_POINTS))
    if _COMPARE.search(request) and len({s.page for s in sentences}) > 1:
        return compare(sentences, max_sentences)
    if _SUMMARY.search(request) or _COMPARE.search(request):
        return " ".join(_cite(s) for s in summary(sentences, max_sentences))
    best = best_answers(sentences, request, max_sentences)
    return " ".join(_cite(s) for s in best) if best else NO_MATCH


def best_answers(sentences: list[Sentence], question: str, limit: int) -> list[Sentence]:
    """Up to ``limit`` sentences answering ``question``, in reading order; [] if none matches.

    A sentence scores its own BM25 (scaled to [0, 1]; its heading and page title count as its
    words) plus ``PASSAGE_WEIGHT`` times its section's (scaled the same way), so sentences of
    the best section win ties and a section matched only by its heading is quoted from its
    start.
    """
    sections: dict[int, Counter[str]] = defaultdict(Counter)
    titled: dict[int, Counter[str]] = {}
    for s in sentences:
        sections[s.section] += s.terms
        titled[s.section] = _titles(s)
    keys = list(sections)
    section_docs = [sections[k] + titled[k] for k in keys]
    section_scores = dict(zip(keys, _scaled(bm25_scores(question, section_docs)), strict=True))
    own = _scaled(bm25_scores(question, [s.terms + _titles(s) for s in sentences]))
    scores = [
        o + PASSAGE_WEIGHT * section_scores[s.section] for s, o in zip(sentences, own, strict=True)
    ]
    best = max(scores)
    if best <= 0:
        return []
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen = [i for i in ranked[:limit] if scores[i] >= KEEP_RATIO * best]
    top = sentences[ranked[0]]
    if top.item:  # the answer is a list: quote all of it, not the items that happen to be short
        items = [i for i, s in enumerate(sentences) if s.item and s.section == top.section]
        chosen = items[:MAX_LIST_ITEMS]
    return [sentences[i] for i in sorted(chosen)]


def summary(sentences: list[Sentence], limit: int, least: int = 1) -> list[Sentence]:
    """The most central sentences, in reading order: about one in four (at least ``least``, at
    most ``limit``), each from a different section while there are sections left."""
    size = max(least, min(limit, round(len(sentences) / 4)))
    scores = _centrality(sentences, sentences)
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    seen: set[int] = set()
    for i in order:  # the best of each section first, then the next best anywhere
        if len(chosen) < size and sentences[i].section not in seen:
            chosen.append(i)
            seen.add(sentences[i].section)
    chosen += [i for i in order if i not in chosen][: size - len(chosen)]
    return [sentences[i] for i in sorted(chosen)]


def key_points(sentences: list[Sentence], limit: int) -> list[Sentence]:
    """Each section's most central sentence, in reading order; past ``limit`` sections, those
    most central to the whole text. Short texts get a second sentence per section, up to half
    of their sentences, so a list of points says more than the summary does."""
    groups: dict[int, list[Sentence]] = defaultdict(list)
    for s in sentences:
        groups[s.section].append(s)
    ordered: list[list[Sentence]] = []  # each section's sentences, most central first
    for group in groups.values():
        scores = _centrality(group, group)
        ordered.append([group[i] for i in sorted(range(len(group)), key=lambda i: (-scores[i], i))])
    target = min(limit, max(len(ordered), math.ceil(len(sentences) / 2)))  # more than summary()
    picks = [group[0] for group in ordered]
    if len(picks) > target:
        overall = _centrality(picks, sentences)
        picks = [picks[i] for i in sorted(range(len(picks)), key=lambda i: (-overall[i], i))]
    depth = 1
    while len(picks) < target:
        extra = [group[depth] for group in ordered if len(group) > depth]
        if not extra:
            break
        picks.extend(extra[: target - len(picks)])
        depth += 1
    return sorted(picks[:target], key=lambda s: s.position)


def compare(sentences: list[Sentence], per_page: int) -> str:
    """One line per page: ``Page N:`` and that page's most central sentences."""
    lines = []
    for page in sorted({s.page for s in sentences}):
        own = [s for s in sentences if s.page == page]
        quoted = " ".join(_cite(s) for s in summary(own, per_page, least=min(2, per_page)))
        lines.append(f"Page {page}: {quoted}")
    return "\n".join(lines)


def _centrality(candidates: Sequence[Sentence], corpus: Sequence[Sentence]) -> list[float]:
    """Cosine of each candidate's tf-idf vector to the corpus centroid, plus a lead bonus."""
    df: Counter[str] = Counter()
    for s in corpus:
        df.update(s.terms.keys())
    n = len(corpus)
    idf = {t: math.log(1 + n / f) for t, f in df.items()}
    centroid: dict[str, float] = defaultdict(float)
    for s in corpus:
        for t, c in s.terms.items():
            centroid[t] += c * idf[t]
    centroid_norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    scores = []
    for s in candidates:
        vec = {t: c * idf.get(t, 0.0) for t, c in s.terms.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        cosine = sum(v * centroid.get(t, 0.0) for t, v in vec.items()) / (norm * centroid_norm)
        scores.append(cosine + (LEAD_BONUS if s.first else 0.0))
    return scores


def _titles(s: Sentence) -> Counter[str]:
    """The terms of the sentence's heading and of its page's title, once each: a reader takes
    each sentence with both. The title's words then occur everywhere on the page, so, like any
    word that every passage has, they cannot make one passage win over another."""
    return Counter(set(terms(s.heading))) + Counter(set(terms(s.title)))


def _scaled(values: list[float]) -> list[float]:
    top = max(values)
    return [v / top if top > 0 else 0.0 for v in values]


def _cite(s: Sentence) -> str:
    return s.text + (f" [{s.passage}]" if s.passage is not None else "")


class LocalExtractiveProvider(Provider):
    """A local model that answers by quoting the prompt's passages (no model server)."""

    kind = "local-extractive"
    supports_embeddings = False

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        self.max_sentences = int(deployment.options.get("max_sentences", 3))

    async def _complete(self, body: dict[str, Any]) -> tuple[str, dict[str, int]]:
        messages = body["messages"]
        text = await asyncio.to_thread(answer, messages, self.max_sentences)
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
            text = orjson.dumps({"answer": text}).decode()
        prompt = count_message_tokens(messages)
        completion = count_tokens(text)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return text, usage

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": kind,
            "created": int(time.time()),
            "model": self.deployment.name,
            "system_fingerprint": "local-extractive",
        }

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        text, usage = await self._complete(body)
        reply = self._envelope("chat.completion")
        reply["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ]
        reply["usage"] = usage
        return UpstreamReply.from_json(reply)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        text, usage = await self._complete(body)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return _WordStream(self._envelope("chat.completion.chunk"), text, usage, include_usage)


class _WordStream(ChatStream):
    """Streams the answer a few words per chunk, as a model would."""

    def __init__(
        self, envelope: dict[str, Any], text: str, usage: dict[str, int], include_usage: bool
    ) -> None:
        self.envelope = envelope
        self.text = text
        self.usage = usage
        self.include_usage = include_usage

    def _chunk(self, delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {**self.envelope, "choices": [choice], **extra}
        if self.include_usage and "usage" not in extra:
            chunk["usage"] = None
        return sse_event(orjson.dumps(chunk))

    async def events(self) -> AsyncIterator[bytes]:
        yield self._chunk({"role": "assistant", "content": ""}, None)
        words = re.findall(r"\S+\s*", self.text)
        for i in range(0, len(words), 4):
            yield self._chunk({"content": "".join(words[i : i + 4])}, None)
            await asyncio.sleep(0)
        yield self._chunk({}, "stop")
        if self.include_usage:
            yield sse_event(orjson.dumps({**self.envelope, "choices": [], "usage": self.usage}))
        yield SSE_DONE
