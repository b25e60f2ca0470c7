"""The ``local-extractive`` provider: an honest offline chat model that only quotes.

It treats every message before the last user message as context and the last user message as
the question, scores the context's sentences against the question with BM25, and answers with
the best few sentences, verbatim, in their original order; asked for a summary, it quotes the
opening sentence of each passage (the lead baseline). It never invents text. When the
context holds numbered passages (paragraphs that begin with ``[n]``), it quotes only from
them, and each quoted sentence is followed by the ``[n]`` of its passage, so callers can
check citations.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from flightdeck.core.settings import ModelDeployment
from flightdeck.core.tokens import count_message_tokens, count_tokens, message_text
from flightdeck.providers.base import SSE_DONE, ChatStream, Provider, UpstreamReply, sse_event

NO_CONTEXT = (
    "I am an offline extractive model: I answer only by quoting text given in the conversation, "
    "and no such text was given."
)
NO_MATCH = "The provided text does not appear to answer this question."

_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! or ? followed by a capital or digit, possibly datamarked (``^The``).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\^?[\"'(\[]?[A-Z0-9])")
_SUMMARY_REQUEST = re.compile(
    r"\b(summari[sz]e|summary|key points|main points|overview|tl;?dr)\b", re.IGNORECASE
)
_MARKER = re.compile(r"^\s*\[(\d{1,6})\]\s*")
_STOPWORDS = frozenset(
    """a an and are as at be by did do does for from had has have how i in is it its me my of on
    or our so than that the their them then there these they this to was we were what when where
    which who whom why will with would you your about can could should into not no""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    passage: int | None
    position: int


def split_sentences(context: str) -> list[Sentence]:
    """Sentences of the context, each tagged with the ``[n]`` passage it sits in (if any)."""
    sentences: list[Sentence] = []
    passage: int | None = None
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*\[\d{1,6}\])", context):
        marker = _MARKER.match(paragraph)
        if marker:
            passage = int(marker.group(1))
            paragraph = paragraph[marker.end() :]
        for line in paragraph.splitlines():  # a heading is a line of its own, not a sentence start
            for part in _SENTENCE_END.split(line.strip()):
                text = " ".join(part.split())
                if len(_WORD.findall(text)) >= 3:
                    sentences.append(Sentence(text, passage, len(sentences)))
    return sentences


def terms(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS]


def rank_sentences(
    sentences: list[Sentence], question: str, k1: float = 1.2, b: float = 0.75
) -> list[tuple[float, Sentence]]:
    """BM25 over sentences; best first, zero scores left out."""
    docs = [Counter(terms(s.text)) for s in sentences]
    if not docs:
        return []
    avg_len = sum(sum(d.values()) for d in docs) / len(docs) or 1.0
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    query = set(terms(question))
    scored = []
    for sentence, doc in zip(sentences, docs, strict=True):
        length = sum(doc.values())
        score = 0.0
        for term in query & doc.keys():
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            tf = doc[term]
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_len))
        if score > 0:
            scored.append((score, sentence))
    scored.sort(key=lambda p: (-p[0], p[1].position))
    return scored


def lead_sentences(sentences: list[Sentence], limit: int) -> list[Sentence]:
    """An extractive summary: the opening sentence of each passage (of the text, if none)."""
    firsts: dict[int | None, Sentence] = {}
    for sentence in sentences:
        firsts.setdefault(sentence.passage, sentence)
    leads = list(firsts.values()) if len(firsts) > 1 else sentences
    return leads[:limit]


def answer(messages: list[dict[str, Any]], max_sentences: int = 3) -> str:
    last_user = max(
        (i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages) - 1
    )
    question = message_text(messages[last_user].get("content"))
    context = "\n\n".join(message_text(m.get("content")) for m in messages[:last_user])
    sentences = split_sentences(context)
    if any(s.passage is not None for s in sentences):
        # Numbered passages are the sources; the text around them (instructions) is not.
        sentences = [s for s in sentences if s.passage is not None]
    if not sentences:
        return NO_CONTEXT
    if _SUMMARY_REQUEST.search(question):
        best = lead_sentences(sentences, max_sentences)
    else:
        ranked = rank_sentences(sentences, question)
        if not ranked:
            return NO_MATCH
        best = sorted((s for _, s in ranked[:max_sentences]), key=lambda s: s.position)
    return " ".join(s.text + (f" [{s.passage}]" if s.passage is not None else "") for s in best)


class LocalExtractiveProvider(Provider):
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
