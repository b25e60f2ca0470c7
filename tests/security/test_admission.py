"""Issue #11, finding 7, against a real server: admission counts everything a model reads.

With a 2,000 tokens/minute key limit, a request with ``max_tokens: 100`` and an 8,000-token
tool definition was admitted (only message text was counted). Now it is refused with 429, on
all three inbound wire formats, through the official SDKs; ``max_tokens``/``n`` that are not
positive integers get 400; and counting a huge body does not hold up the event loop.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from flightdeck.core.settings import load_settings
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread
from tests.conftest import http

DESCRIPTION = "Looks up a record in the archive by its identifier. " * 800  # ~8,000 tokens
PARAMETERS = {"type": "object", "properties": {"id": {"type": "string"}}}
QUESTION = [{"role": "user", "content": "Find record 7."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with FakeUpstream() as fake:
        data: dict[str, Any] = {
            "home": str(tmp_path_factory.mktemp("admission")),
            "server": {"port": 0},
            "models": [{"name": "gpt", "base_url": fake.base_url, "model": "gpt-4o-mini"}],
            "limits": {"default_key": {"tokens_per_minute": 2000}, "max_choices": 4},
        }
        with ServerThread(load_settings(None, {}, defaults=data)) as running:
            yield running


def test_tool_definition_counts_against_the_token_limit(server: ServerThread) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    tool: Any = {
        "type": "function",
        "function": {"name": "lookup", "description": DESCRIPTION, "parameters": PARAMETERS},
    }
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt", messages=QUESTION, max_tokens=100, tools=[tool])
    # the same request without the tool fits in the limit
    reply = client.chat.completions.create(model="gpt", messages=QUESTION, max_tokens=100)
    assert reply.choices


def test_responses_tool_definition_counts(server: ServerThread) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    tool: Any = {
        "type": "function",
        "name": "lookup",
        "description": DESCRIPTION,
        "parameters": PARAMETERS,
    }
    with pytest.raises(openai.RateLimitError):
        client.responses.create(
            model="gpt", input="Find record 7.", max_output_tokens=100, tools=[tool]
        )


def test_messages_tool_definition_counts(server: ServerThread) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key=server.api_key, max_retries=0)
    tool: Any = {"name": "lookup", "description": DESCRIPTION, "input_schema": PARAMETERS}
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="gpt", max_tokens=100, messages=QUESTION, tools=[tool])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", 1.5),
        ("max_tokens", "100"),
        ("max_tokens", True),
        ("max_tokens", -5),
        ("max_completion_tokens", 0),
        ("max_tokens", 10**30),
        ("n", 2.0),
        ("n", 5),
        ("n", False),
    ],
)
def test_bad_output_params_get_400(server: ServerThread, field: str, value: Any) -> None:
    body = {"model": "gpt", "messages": QUESTION, field: value}
    status, _, reply = http(
        "POST",
        server.url + "/v1/chat/completions",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 400
    assert reply["error"]["param"] == field


def test_counting_a_huge_embeddings_request_does_not_stall_healthz(server: ServerThread) -> None:
    """400,000 inputs take seconds to tokenize; /healthz is answered again and again meanwhile."""
    body = orjson.dumps({"model": "gpt", "input": ["hello world"] * 400_000})
    head = (
        f"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {server.api_key}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answered_meanwhile = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as sock:
        sock.sendall(head + body)
        while not select.select([sock], [], [], 0)[0]:  # the big request is still in flight
            status, _, _ = http("GET", server.url + "/healthz")
            assert status == 200
            if not select.select([sock], [], [], 0)[0]:
                answered_meanwhile += 1
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 429")  # 800,000 tokens against 2,000 a minute
    # measured: 1,083 with tokenization in a thread, 16 with it on the event loop
    assert answered_meanwhile >= 100
