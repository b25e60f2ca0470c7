"""Issue #12.3: embeddings options are delivered whatever the upstream did with them, through
the official SDK (which asks for base64 unless told otherwise)."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import openai
import pytest

from flightdeck.testing import FakeUpstream
from flightdeck.testing.fake_upstream import fake_vector
from tests.conftest import MakeSettings, http

TEXTS = ["sea otters use rocks", "a second input"]


def client_for(server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)


@pytest.fixture
def server(upstream: FakeUpstream, make_settings: MakeSettings, serve):  # type: ignore[no-untyped-def]
    return serve(
        make_settings(
            [
                {"name": "e", "base_url": upstream.base_url},
                {"name": "mrl", "base_url": upstream.base_url, "options": {"matryoshka": True}},
            ]
        )
    )


def floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@pytest.mark.parametrize("upstream_does", ["ignore", "honour", "base64"])
def test_sdk_default_gets_the_vectors_whatever_the_upstream_sent(
    upstream_does: str, upstream: FakeUpstream, server
) -> None:
    upstream.behaviour.embedding_format = upstream_does
    reply = client_for(server).embeddings.create(model="e", input=TEXTS)
    assert upstream.record.last_body is not None
    assert upstream.record.last_body["encoding_format"] == "base64"  # what the SDK asked for
    assert [d.embedding for d in reply.data] == [fake_vector(t, 8) for t in TEXTS]


@pytest.mark.parametrize("upstream_does", ["ignore", "honour", "base64"])
def test_base64_asked_is_base64_delivered(
    upstream_does: str, upstream: FakeUpstream, server
) -> None:
    upstream.behaviour.embedding_format = upstream_does
    status, _, body = http(
        "POST",
        server.url + "/v1/embeddings",
        b'{"model": "e", "input": ["sea otters use rocks"], "encoding_format": "base64"}',
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 200
    vector = body["data"][0]["embedding"]
    assert isinstance(vector, str)
    assert floats(vector) == fake_vector(TEXTS[0], 8)  # little-endian float32, as OpenAI


@pytest.mark.parametrize("asked", ["float", None])
def test_float_asked_is_a_list_even_when_the_upstream_sent_base64(
    asked: str | None, upstream: FakeUpstream, server
) -> None:
    upstream.behaviour.embedding_format = "base64"
    kwargs = {"encoding_format": asked} if asked else {}
    payload = {"model": "e", "input": TEXTS, **kwargs}
    status, _, body = http(
        "POST",
        server.url + "/v1/embeddings",
        json.dumps(payload).encode(),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 200
    assert [d["embedding"] for d in body["data"]] == [fake_vector(t, 8) for t in TEXTS]
    reply = client_for(server).embeddings.create(model="e", input=TEXTS, encoding_format="float")
    assert reply.data[0].embedding == fake_vector(TEXTS[0], 8)


def test_ignored_dimensions_is_a_clear_400(upstream: FakeUpstream, server) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client_for(server).embeddings.create(model="e", input=TEXTS, dimensions=4)
    error = info.value.response.json()["error"]
    assert error["code"] == "dimensions_not_supported"
    assert "8-dimensional" in error["message"] and "'dimensions'" in error["message"]


def test_honoured_dimensions_pass_through(upstream: FakeUpstream, server) -> None:
    upstream.behaviour.honour_dimensions = True
    reply = client_for(server).embeddings.create(model="e", input=TEXTS, dimensions=4)
    assert [d.embedding for d in reply.data] == [fake_vector(t, 4) for t in TEXTS]


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_matryoshka_model_is_cut_and_renormalised(
    encoding: str, upstream: FakeUpstream, server
) -> None:
    reply = client_for(server).embeddings.create(
        model="mrl",
        input=TEXTS,
        dimensions=4,
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    for item, text in zip(reply.data, TEXTS, strict=True):
        got = floats(item.embedding) if encoding == "base64" else item.embedding  # type: ignore[arg-type]
        want = np.array(fake_vector(text, 8)[:4], dtype=np.float32)
        want /= np.linalg.norm(want)
        assert np.allclose(got, want, atol=1e-6)
        assert len(got) == 4


def test_more_dimensions_than_the_model_has_is_a_400_even_for_matryoshka(server) -> None:
    with pytest.raises(openai.BadRequestError):
        client_for(server).embeddings.create(model="mrl", input=TEXTS, dimensions=16)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encoding_format", "binary"),
        ("encoding_format", 3),
        ("encoding_format", "FLOAT"),
        ("dimensions", 0),
        ("dimensions", -1),
        ("dimensions", "4"),
        ("dimensions", True),
        ("dimensions", 2.5),
    ],
)
def test_bad_options_are_400_before_any_upstream_call(
    field: str, value: object, upstream: FakeUpstream, server
) -> None:
    payload = {"model": "e", "input": "x", field: value}
    status, _, body = http(
        "POST",
        server.url + "/v1/embeddings",
        json.dumps(payload).encode(),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 400
    assert body["error"]["param"] == field
    assert upstream.record.total == 0
