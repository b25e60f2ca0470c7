"""The /app page in real Chromium: paste HTML, ask, watch the answer, click a citation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flightdeck.core.settings import Settings
from flightdeck.testing.pdf import make_pdf
from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, OTTERS


@pytest.fixture
def server(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> ServerThread:
    return serve(make_settings([EXTRACTIVE], assistant={"embeddings": False}))


def test_question_to_highlighted_citation(server: ServerThread, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.url + "/app")
    page.fill("#api-key", server.api_key)
    page.dispatch_event("#api-key", "change")
    page.wait_for_function("document.querySelector('#model').options.length >= 1")
    page.select_option("#model", "local/extractive")
    page.fill("#page-html", OTTERS)
    page.fill("#question", "Where do sea otters live?")
    page.click("#ask-button")
    page.wait_for_selector("#status:has-text('Done.')", timeout=30_000)
    assert "northern Pacific" in page.inner_text("#answer")
    cited_texts = []
    citations = page.locator("#answer a.cite")
    assert citations.count() >= 1
    for i in range(citations.count()):
        n = citations.nth(i).get_attribute("data-n")
        citations.nth(i).click()
        highlighted = page.locator("#sources li.highlight")
        assert highlighted.count() == 1
        assert highlighted.get_attribute("id") == f"source-{n}"
        cited_texts.append(highlighted.inner_text())
    assert any("northern Pacific" in t for t in cited_texts)
    assert "% used" in page.inner_text("#usage")
    # The key survives a reload (localStorage), and a bad page shows an error naming it.
    page.reload()
    assert page.input_value("#api-key") == server.api_key
    page.fill("#page-html", "<html><body><nav>Home</nav></body></html>")
    page.fill("#question", "Anything?")
    page.click("#ask-button")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "page 1" in page.inner_text("#status")


def test_pdf_upload_answers_with_a_page_numbered_citation(
    server: ServerThread, browser: Any, tmp_path: Path
) -> None:
    pdf = tmp_path / "otters.pdf"
    pdf.write_bytes(
        make_pdf(
            [
                ["Otters sleep floating on their backs."],
                ["Otters hold hands while sleeping so they do not drift apart."],
            ]
        )
    )
    page = browser.new_page()
    page.goto(server.url + "/app/")
    page.fill("#api-key", server.api_key)
    page.click("button[data-kind=pdf]")
    page.set_input_files("#page-pdf", str(pdf))
    page.fill("#question", "Why do otters hold hands?")
    page.click("#ask-button")
    page.wait_for_selector("#status:has-text('Done.')", timeout=30_000)
    assert "drift apart" in page.inner_text("#answer")
    assert "(PDF page 2)" in page.inner_text("#sources")
