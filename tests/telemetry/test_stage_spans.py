"""The assistant's stages (extract, rank, budget, cite) are INTERNAL spans of the request's
trace, around its inference span, with their durations in the stage histogram."""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from flightdeck.telemetry import semconv as sc
from tests.assistant.conftest import EXTRACTIVE, OTTERS, call, post_events
from tests.conftest import MakeSettings
from tests.telemetry.conftest import Record


def ask(question: str, stream: bool) -> dict[str, object]:
    page = {"url": "https://otters.test/", "title": "", "html": OTTERS}
    return {"model": "local/extractive", "question": question, "pages": [page], "stream": stream}


def test_assistant_stages_are_spans_of_the_request(
    make_settings: MakeSettings, recorded: Record
) -> None:
    rec = recorded(make_settings([EXTRACTIVE], assistant={"embeddings": False}))
    status, body = call(rec.server, "POST", "/v1/assistant/chat", ask("Rocks?", False))
    assert status == 200, body
    assert post_events(rec.server, ask("Fur?", True))[-1][0] == "done"
    spans = rec.finished(servers=2)
    for server in (s for s in spans if s.kind is SpanKind.SERVER):
        trace = [s for s in spans if s.context.trace_id == server.context.trace_id]
        stages = [s.name for s in trace if s.kind is SpanKind.INTERNAL]
        assert sorted(stages) == sorted(
            ["assistant.extract", "assistant.rank", "assistant.budget", "assistant.cite"]
        )
        assert set(stages) <= sc.STAGES
        assert [s.name for s in trace if s.kind is SpanKind.CLIENT] == ["chat local/extractive"]
    exposition = rec.telemetry.exposition().decode()
    assert 'flightdeck_stage_duration_seconds_count{stage="assistant.rank"} 2.0' in exposition
