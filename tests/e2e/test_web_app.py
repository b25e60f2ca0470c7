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
from tests.e2e.conftest import wait_until


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
    wait_until(page, "document.querySelector('#model').options.length >= 1")
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


ZEBRAFISH = (
    "Zebrafish\n\nZebrafish grow new fins after an injury. Their stripes help shoals stay "
    "together.\n\nHabitat\n\nZebrafish live in slow streams and rice paddies in South Asia."
)


def test_compare_two_pages_held_in_tabs(server: ServerThread, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.url + "/app")
    page.fill("#api-key", server.api_key)
    page.fill("#page-html", OTTERS)
    page.fill("#page-url", "https://otters.test/")
    page.click("#add-page")
    assert page.locator("#pages .page-tab").count() == 2
    assert page.input_value("#page-html") == ""  # a new page starts empty
    page.click(".kind-tabs button[data-kind=text]")
    page.fill("#page-text", ZEBRAFISH)
    page.click("#pages .page-tab[data-index='0']")  # back to page 1: its fields come back
    assert page.input_value("#page-html") == OTTERS
    assert page.input_value("#page-url") == "https://otters.test/"
    page.click("#pages .page-tab[data-index='1']")
    assert page.input_value("#page-text") == ZEBRAFISH and page.is_visible("#page-text")
    page.select_option("#mode", "compare")
    page.click("#ask-button")
    page.wait_for_selector("#status:has-text('Done.')", timeout=30_000)
    answer = page.inner_text("#answer")
    assert "Page 1:" in answer and "Page 2:" in answer
    assert "<<<" not in answer and "PAGES" not in answer and "^" not in answer
    sources = page.inner_text("#sources")
    assert "[page 1]" in sources and "[page 2]" in sources
    usage = page.inner_text("#usage")
    assert "page 1:" in usage and "page 2:" in usage
    # Removing a page leaves one: compare then asks for a second page instead of failing.
    page.click(".remove-page[data-index='1']")
    assert page.locator("#pages .page-tab").count() == 1
    assert page.input_value("#page-html") == OTTERS
    page.click("#ask-button")
    page.wait_for_selector("#status.error", timeout=10_000)
    assert "compare needs two pages" in page.inner_text("#status")
