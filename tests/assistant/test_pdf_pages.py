"""PDF pages without a text layer (scans): read by OCR when Tesseract is installed, otherwise
named as unreadable in ``sources``, ``usage`` and ``/extract``, and counted in the coverage."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable

import pytest

from flightdeck.assistant.ocr import find_ocr
from flightdeck.assistant.pdf import extract_pdf
from flightdeck.core.settings import AssistantSettings, Settings
from flightdeck.testing.pdf import make_pdf
from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, call, post_events

PAGES = [
    ["Otters sleep floating on their backs in the kelp."],
    ["Otters hold hands while sleeping", "so that they do not drift apart."],
]
SCAN = make_pdf(PAGES, scanned={1})  # page 2 is an image without a text layer


def pdf_page(data: bytes = SCAN) -> dict[str, str]:
    return {
        "url": "otters.pdf",
        "title": "otters.pdf",
        "pdf_base64": base64.b64encode(data).decode(),
    }


@pytest.fixture
def no_ocr_server(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> ServerThread:
    """A server whose OCR program does not exist, whatever is installed on this machine."""
    assistant = {"embeddings": False, "ocr_command": "flightdeck-no-such-ocr"}
    return serve(make_settings([EXTRACTIVE], assistant=assistant))


def test_a_scanned_page_is_named_in_sources_usage_and_extract(no_ocr_server: ServerThread) -> None:
    body = {"model": "local/extractive", "question": "How do otters sleep?", "pages": [pdf_page()]}
    events = post_events(no_ocr_server, body)
    names = [n for n, _ in events]
    assert names[-1] == "done"
    sources = events[names.index("sources")][1]
    assert [(u["page"], u["page_no"]) for u in sources["unreadable"]] == [(0, 2)]
    assert "tesseract" in sources["unreadable"][0]["reason"]
    assert {s["page_no"] for s in sources["sources"]} == {1}
    usage = events[names.index("usage")][1]["pages"][0]
    assert usage["source_pages"] == 2 and usage["unreadable_pages"] == [2]
    assert usage["share"] == 0.5 and usage["whole"] is False
    status, reader = call(no_ocr_server, "POST", "/v1/assistant/extract", pdf_page())
    assert status == 200 and reader["source_pages"] == 2
    assert [u["page_no"] for u in reader["unreadable_pages"]] == [2]
    assert "no text layer" in reader["unreadable_pages"][0]["reason"]


def test_html_pages_report_no_unreadable_pages(no_ocr_server: ServerThread) -> None:
    page = {"url": "u", "text": "Otters float.\n\nThey hold hands."}
    status, body = call(
        no_ocr_server,
        "POST",
        "/v1/assistant/chat",
        {"model": "local/extractive", "question": "hands?", "pages": [page], "stream": False},
    )
    assert status == 200 and body["unreadable"] == []
    assert body["usage"]["pages"][0]["unreadable_pages"] == []
    assert body["usage"]["pages"][0]["whole"] is True


def test_a_pdf_of_scans_only_is_an_error_that_says_why(no_ocr_server: ServerThread) -> None:
    page = pdf_page(make_pdf(PAGES, scanned={0, 1}))
    body = {"model": "local/extractive", "question": "q", "pages": [page], "stream": False}
    status, reply = call(no_ocr_server, "POST", "/v1/assistant/chat", body)
    assert status == 400 and reply["error"]["code"] == "empty_page"
    assert "page 1: no text layer" in reply["error"]["message"]
    assert "tesseract" in reply["error"]["message"]


def test_ocr_stops_at_the_page_limit_and_says_so() -> None:
    engine, _ = find_ocr(AssistantSettings(ocr_command="sh", ocr_max_pages=0))
    assert engine is not None  # any installed program: the limit stops it before it runs
    extracted = extract_pdf(SCAN, 0, ocr=engine)
    assert [u.page_no for u in extracted.unreadable] == [2]
    assert "ocr_max_pages" in extracted.unreadable[0].reason


def test_ocr_off_is_the_reason_given() -> None:
    engine, why = find_ocr(AssistantSettings(ocr=False))
    assert engine is None
    assert "ocr = false" in extract_pdf(SCAN, 0, ocr=engine, no_ocr=why).unreadable[0].reason


def test_a_scanned_page_is_read_by_ocr_when_tesseract_is_installed(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> None:
    if shutil.which("tesseract") is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("tesseract is missing on CI: make tools-ocr")
        pytest.skip("tesseract-ocr is not installed (make tools-ocr)")
    server = serve(make_settings([EXTRACTIVE], assistant={"embeddings": False}))
    body = {
        "model": "local/extractive",
        "question": "Why do otters hold hands?",
        "pages": [pdf_page()],
        "stream": False,
    }
    status, reply = call(server, "POST", "/v1/assistant/chat", body)
    assert status == 200, reply
    assert "drift apart" in reply["answer"]
    assert 2 in {c["page_no"] for c in reply["citations"]}
    assert reply["unreadable"] == []
    assert reply["usage"]["pages"][0]["whole"] is True
