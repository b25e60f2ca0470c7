"""The assistant over HTTP, against a real server and the offline extractive model."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

from flightdeck.auth.keys import Role
from flightdeck.core.settings import Settings
from flightdeck.testing import FakeUpstream
from flightdeck.testing.pdf import make_pdf
from flightdeck.testing.server import ServerThread, create_key
from tests.assistant.conftest import EXTRACTIVE, OTTERS, call, post_events


def ask(question: str, **extra: object) -> dict[str, object]:
    page = {"url": "https://otters.test/", "title": "", "html": OTTERS}
    return {"model": "local/extractive", "question": question, "pages": [page], **extra}


def test_stream_events_come_in_order_with_valid_citations(assistant_server: ServerThread) -> None:
    events = post_events(assistant_server, ask("What do sea otters use rocks for?"))
    names = [name for name, _ in events]
    assert names[0] == "status"
    assert names[-2:] == ["usage", "done"]
    assert names.index("sources") < names.index("delta") < names.index("citation")
    sources = {s["n"]: s for s in events[names.index("sources")][1]["sources"]}
    assert all({"id", "page", "start", "end", "score"} <= s.keys() for s in sources.values())
    answer = "".join(d["text"] for n, d in events if n == "delta")
    assert "rocks as tools" in answer and "^" not in answer
    cited = [d for n, d in events if n == "citation"]
    assert cited and all(sources[c["n"]]["id"] == c["id"] for c in cited)
    assert "rocks as tools" in sources[cited[0]["n"]]["text"]
    usage = events[-2][1]
    assert usage["prompt_tokens"] > 0 and usage["pages"][0]["share"] == 1.0


def test_json_answer_when_not_streaming(assistant_server: ServerThread) -> None:
    status, body = call(
        assistant_server,
        "POST",
        "/v1/assistant/chat",
        ask("Where do sea otters live?", stream=False),
    )
    assert status == 200
    assert "northern Pacific" in body["answer"]
    assert body["citations"] and body["invalid_citations"] == []
    assert {c["n"] for c in body["citations"]} <= {s["n"] for s in body["sources"]}


def test_extract_returns_the_reader_view(assistant_server: ServerThread) -> None:
    status, body = call(
        assistant_server, "POST", "/v1/assistant/extract", {"url": "u", "html": OTTERS}
    )
    assert status == 200
    assert body["title"] == "Sea otters"
    assert "Home" not in body["text"] and "densest" in body["text"]
    for p in body["passages"]:
        assert body["text"][p["start"] : p["end"]] == p["text"]


def test_pdf_citations_point_to_pdf_pages(assistant_server: ServerThread) -> None:
    pdf = make_pdf(
        [
            ["Otters sleep floating on their backs."],
            ["Otters hold hands while sleeping so they do not drift apart."],
        ]
    )
    page = {"url": "f.pdf", "title": "f.pdf", "pdf_base64": base64.b64encode(pdf).decode()}
    status, body = call(
        assistant_server,
        "POST",
        "/v1/assistant/chat",
        {
            "model": "local/extractive",
            "question": "Why do otters hold hands?",
            "pages": [page],
            "stream": False,
        },
    )
    assert status == 200
    by_page = {s["page_no"]: s for s in body["sources"]}
    assert "hold hands" in by_page[2]["text"] and "hold hands" not in by_page[1]["text"]
    assert 2 in {c["page_no"] for c in body["citations"]}


def test_a_bad_page_is_an_error_event_naming_it(assistant_server: ServerThread) -> None:
    pages = [
        {"url": "a", "html": OTTERS},
        {"url": "b.pdf", "pdf_base64": base64.b64encode(b"%PDF-1.4 garbage").decode()},
    ]
    events = post_events(
        assistant_server, {"model": "local/extractive", "question": "otters?", "pages": pages}
    )
    assert [n for n, _ in events] == ["status", "error"]
    assert events[1][1]["page"] == 1 and events[1][1]["code"] == "invalid_pdf"


def test_an_empty_page_is_an_error_not_an_empty_answer(assistant_server: ServerThread) -> None:
    page = {"url": "a", "html": "<html><body><nav>Home</nav><script>x()</script></body></html>"}
    events = post_events(
        assistant_server,
        {"model": "local/extractive", "question": "q", "pages": [{"url": "z", "html": "   "}]},
    )
    assert events[-1] == ("error", events[-1][1]) and events[-1][1]["code"] == "empty_page"
    status, body = call(
        assistant_server,
        "POST",
        "/v1/assistant/chat",
        {"model": "local/extractive", "question": "q", "pages": [page], "stream": False},
    )
    assert status == 400 and body["error"]["param"] == "pages[0]"


def test_bounds_give_clear_400_and_413(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> None:
    server = serve(
        make_settings(
            [EXTRACTIVE],
            assistant={
                "embeddings": False,
                "max_pages": 2,
                "max_question_chars": 50,
                "max_page_bytes": 1000,
            },
        )
    )
    page = {"url": "a", "text": "Otters."}
    cases = [
        ({"model": "local/extractive", "question": "q", "pages": [page] * 3}, 413, "pages"),
        ({"model": "local/extractive", "question": "q" * 51, "pages": [page]}, 413, "question"),
        (
            {
                "model": "local/extractive",
                "question": "q",
                "pages": [{"url": "a", "text": "x" * 1001}],
            },
            413,
            "pages[0].text",
        ),
        (
            {"model": "local/extractive", "question": "q", "pages": [{"url": "https://a.test/"}]},
            400,
            "pages[0]",
        ),
        (
            {"model": "local/extractive", "question": "q", "mode": "poem", "pages": [page]},
            400,
            "mode",
        ),
        ({"model": "local/extractive", "question": "", "pages": [page]}, 400, "question"),
        (
            {
                "model": "local/extractive",
                "question": "q",
                "pages": [{"url": "a", "pdf_base64": "***"}],
            },
            400,
            "pages[0].pdf_base64",
        ),
        ({"model": "nope", "question": "q", "pages": [page]}, 404, "model"),
    ]
    for body, status, param in cases:
        got, reply = call(server, "POST", "/v1/assistant/chat", body)
        assert (got, reply["error"]["param"]) == (status, param), reply
    got, reply = call(server, "POST", "/v1/assistant/chat", ask("q"), key="fd-wrong")
    assert got == 401


def test_follow_up_reuses_the_stored_passages(assistant_server: ServerThread) -> None:
    assistant = assistant_server.app.state.assistant
    first = post_events(assistant_server, ask("What do sea otters use rocks for?"))
    conversation_id = first[-1][1]["conversation_id"]
    processed = assistant.pages.processed
    # The same page sent again, then no page at all: neither is extracted again.
    again = post_events(
        assistant_server, ask("How dense is their fur?", conversation_id=conversation_id)
    )
    follow = post_events(
        assistant_server,
        {
            "model": "local/extractive",
            "question": "Where do they live?",
            "conversation_id": conversation_id,
        },
    )
    assert assistant.pages.processed == processed
    assert "densest" in "".join(d["text"] for n, d in again if n == "delta")
    assert "northern Pacific" in "".join(d["text"] for n, d in follow if n == "delta")
    status, body = call(assistant_server, "GET", f"/v1/assistant/conversations/{conversation_id}")
    assert status == 200
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"] * 3
    assert body["pages"] == [{"url": "https://otters.test/", "title": "Sea otters"}]


def test_conversations_are_listed_deleted_and_private(assistant_server: ServerThread) -> None:
    done = post_events(assistant_server, ask("What do sea otters use rocks for?"))[-1][1]
    cid = done["conversation_id"]
    other = asyncio.run(create_key(assistant_server.settings, Role.MEMBER, tenant="other"))
    _, listed = call(assistant_server, "GET", "/v1/assistant/conversations")
    assert [c["id"] for c in listed["data"]] == [cid]
    assert call(assistant_server, "GET", "/v1/assistant/conversations", key=other)[1]["data"] == []
    assert call(assistant_server, "GET", f"/v1/assistant/conversations/{cid}", key=other)[0] == 404
    assert (
        call(assistant_server, "DELETE", f"/v1/assistant/conversations/{cid}", key=other)[0] == 404
    )
    follow = {"model": "local/extractive", "question": "fur?", "conversation_id": cid}
    assert call(assistant_server, "POST", "/v1/assistant/chat", follow, key=other)[0] == 404
    assert call(assistant_server, "DELETE", f"/v1/assistant/conversations/{cid}") == (
        200,
        {"id": cid, "deleted": True},
    )
    assert call(assistant_server, "GET", "/v1/assistant/conversations")[1]["data"] == []
    assert call(assistant_server, "GET", f"/v1/assistant/conversations/{cid}")[0] == 404


def test_invalid_citations_from_the_model_are_dropped(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
    upstream: FakeUpstream,
) -> None:
    # The fake model echoes the question, so the question decides which markers come back.
    model = {"name": "echo", "provider": "openai", "base_url": upstream.base_url, "api_key": "k"}
    server = serve(make_settings([model], assistant={"embeddings": False}))
    body = ask("Rocks [1] and kelp [7] and fur [2, 42].", model="echo")
    events = post_events(server, body)
    answer = "".join(d["text"] for n, d in events if n == "delta")
    assert answer == "echo: Rocks [1] and kelp  and fur [2]."
    assert [d["n"] for n, d in events if n == "citation"] == [1, 2]
    assert events[-1][1]["invalid_citations"] == [7, 42]
    sent = upstream.record.last_body
    assert sent is not None and set(sent) == {"model", "messages", "stream", "stream_options"}
    assert sent["stream_options"] == {"include_usage": True}  # nothing else reaches the model


def test_a_failing_model_is_an_error_event(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
    upstream: FakeUpstream,
) -> None:
    upstream.behaviour.failure_rate = 1.0
    model = {"name": "down", "provider": "openai", "base_url": upstream.base_url, "api_key": "k"}
    server = serve(
        make_settings([model], router={"max_retries": 0}, assistant={"embeddings": False})
    )
    events = post_events(server, ask("Where do sea otters live?", model="down"))
    names = [n for n, _ in events]
    assert names[:3] == ["status", "status", "sources"]
    assert names[-1] == "error" and "delta" not in names


def test_compare_mode_gives_every_page_a_share_of_a_tight_budget(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> None:
    server = serve(
        make_settings(
            [EXTRACTIVE],
            assistant={
                "embeddings": False,
                "whole_page_tokens": 50,
                "models": {"local/extractive": {"token_budget": 600}},
            },
        )
    )
    long_page = "\n\n".join(
        f"Section {i}\n\nOtters paragraph {i} about kelp. " * 6 for i in range(30)
    )
    pages = [{"url": "a", "text": long_page}, {"url": "b", "html": OTTERS}]
    status, body = call(
        server,
        "POST",
        "/v1/assistant/chat",
        {"model": "local/extractive", "mode": "compare", "pages": pages, "stream": False},
    )
    assert status == 200
    usage = body["usage"]["pages"]
    assert [u["page"] for u in usage] == [0, 1]
    assert all(u["passages_used"] >= 1 for u in usage)
    assert usage[0]["share"] < 1
    assert sum(u["tokens_used"] for u in usage) <= 600
    assert {s["page"] for s in body["sources"]} == {0, 1}


def test_summarize_needs_no_question(assistant_server: ServerThread) -> None:
    page = {"url": "https://otters.test/", "html": OTTERS}
    status, body = call(
        assistant_server,
        "POST",
        "/v1/assistant/chat",
        {"model": "local/extractive", "mode": "summarize", "pages": [page], "stream": False},
    )
    assert status == 200 and body["answer"] and body["citations"]
