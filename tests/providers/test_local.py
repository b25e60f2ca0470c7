"""The offline providers, served by a real gateway: MiniLM embeddings and the extractive model."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from flightdeck.providers.local_extractive import NO_CONTEXT, answer
from flightdeck.testing.server import ServerThread


@pytest.fixture
def local_client(local_server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=local_server.url + "/v1", api_key=local_server.api_key, max_retries=0
    )


def test_minilm_embeddings_are_real_and_semantic(local_client: openai.OpenAI) -> None:
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Quarterly tax filing deadline."]
    reply = local_client.embeddings.create(model="local/minilm", input=texts)
    vectors = np.array([d.embedding for d in reply.data])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.5 > unrelated
    assert reply.usage.prompt_tokens > 0


def test_minilm_dimensions_and_bad_value(local_client: openai.OpenAI) -> None:
    short = local_client.embeddings.create(model="local/minilm", input="hi", dimensions=64)
    assert len(short.data[0].embedding) == 64
    with pytest.raises(openai.BadRequestError):
        local_client.embeddings.create(model="local/minilm", input="hi", dimensions=1000)


def test_chat_on_an_embedding_model_is_400(local_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        local_client.chat.completions.create(
            model="local/minilm", messages=[{"role": "user", "content": "x"}]
        )
    assert "does not support chat" in info.value.message


def test_extractive_quotes_and_cites_passages(local_client: openai.OpenAI) -> None:
    context = (
        "[1] The Eiffel Tower was completed in 1889 for the World's Fair.\n\n"
        "[2] Bananas are a good source of potassium and grow in the tropics.\n\n"
        "[3] Gustave Eiffel's company designed and built the tower."
    )
    reply = local_client.chat.completions.create(
        model="local/extractive",
        messages=[
            {"role": "system", "content": context},
            {"role": "user", "content": "When was the Eiffel Tower completed?"},
        ],
    )
    text = reply.choices[0].message.content or ""
    assert "completed in 1889 for the World's Fair. [1]" in text
    assert "[2]" not in text  # the unrelated passage is not quoted


def test_extractive_streams_with_usage(local_client: openai.OpenAI) -> None:
    stream = local_client.chat.completions.create(
        model="local/extractive",
        messages=[
            {"role": "user", "content": "Paris is the capital of France. Rome is in Italy."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Paris is the capital of France."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_extractive_is_honest_without_context() -> None:
    assert answer([{"role": "user", "content": "What is the meaning of life?"}]) == NO_CONTEXT


def test_extractive_quotes_only_numbered_passages_never_the_instructions() -> None:
    system = (
        "Rules: use only the passages below. Cite the passages you use.\n\n"
        "[1] ^The ^rules ^of ^chess ^were ^standardised ^in ^the ^19th ^century. "
        "^Castling ^came ^later.\n\n"
        "[2] ^Bananas ^are ^yellow."
    )
    reply = answer(
        [{"role": "system", "content": system}, {"role": "user", "content": "What are the rules?"}]
    )
    assert reply.startswith("The rules of chess")  # quoted without the datamarks
    assert reply.endswith("[1]") and "Cite the passages" not in reply


def test_extractive_summary_quotes_leading_sentences_of_different_passages() -> None:
    system = (
        "[1] Otters live in kelp forests. They eat urchins.\n\n"
        "[2] Otters use rocks as tools. Some keep a favourite rock.\n\n"
        "[3] Otters hold hands while sleeping. This keeps them together."
    )
    reply = answer(
        [{"role": "system", "content": system}, {"role": "user", "content": "Summarize this page."}]
    )
    assert reply == "Otters live in kelp forests. [1] Otters use rocks as tools. [2]"
