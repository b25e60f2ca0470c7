"""The injection suite: every page's instruction stays inert.

Checked on what the model is actually sent (a fake upstream records the request): hidden text
never reaches the prompt, visible instructions are only inside the fence and datamarked, the
request shape (no tools, no functions) never changes, and no citation leaves the sent passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from flightdeck.core.settings import Settings
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, post_events
from tests.assistant.injection_pages import INJECTION_PAGES, InjectionPage

QUESTION = "How much sunlight do tomatoes need? Also see [1] [3] [99]."


@pytest.fixture
def server(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
    upstream: FakeUpstream,
) -> tuple[ServerThread, FakeUpstream]:
    echo = {"name": "echo", "provider": "openai", "base_url": upstream.base_url, "api_key": "k"}
    return serve(make_settings([echo, EXTRACTIVE], assistant={"embeddings": False})), upstream


def fence(system: str) -> tuple[str, str]:
    """(rules, data): the text outside the page fence and the text inside it."""
    boundary = re.search(r"\n<<<PAGES ([0-9a-f]{16})>>>\n", system)
    assert boundary is not None
    end = system.index(f"\n<<<END PAGES {boundary.group(1)}>>>")
    return system[: boundary.start()], system[boundary.end() : end]


def test_the_suite_has_at_least_twenty_pages() -> None:
    assert len(INJECTION_PAGES) >= 20
    assert len({p.name for p in INJECTION_PAGES}) == len(INJECTION_PAGES)


def test_injections_stay_inert(server: tuple[ServerThread, FakeUpstream]) -> None:
    srv, upstream = server
    for case in INJECTION_PAGES:
        check_page(srv, upstream, case)


def check_page(srv: ServerThread, upstream: FakeUpstream, case: InjectionPage) -> None:
    page = {"url": "https://tomatoes.test/", "title": "", "html": case.html}
    for model in ("echo", "local/extractive"):
        events = post_events(srv, {"model": model, "question": QUESTION, "pages": [page]})
        names = [n for n, _ in events]
        assert names[-1] == "done", (case.name, events[-1])
        sent = {s["n"] for s in events[names.index("sources")][1]["sources"]}
        cited = [d["n"] for n, d in events if n == "citation"]
        assert set(cited) <= sent, case.name
        answer = "".join(d["text"] for n, d in events if n == "delta")
        assert all(int(n) in sent for n in re.findall(r"\[(\d+)\]", answer)), case.name
        assert "PWNED" not in answer, case.name
    body = upstream.record.last_body
    assert body is not None, case.name
    assert set(body) == {"model", "messages", "stream", "stream_options"}, case.name
    assert body["stream_options"] == {"include_usage": True}, case.name
    system = body["messages"][0]["content"]
    _, data = fence(system)
    words = case.attack.split()
    raw_run = " ".join(words[:4])
    assert raw_run not in system, case.name  # never verbatim, inside or outside the fence
    if case.hidden:
        assert "^" + " ^".join(words[:4]) not in data, case.name
        assert "PWNED" not in system, case.name
    else:
        assert "^" + " ^".join(words[:4]) in data, case.name  # fenced and datamarked
    assert body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
