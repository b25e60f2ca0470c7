"""The start page and the key help in real Chromium: ``/`` links every page, the pages under
``/app`` explain where a key comes from until one is set, and the security headers block
nothing the pages themselves use."""

from __future__ import annotations

from typing import Any

from flightdeck.testing.server import ServerThread
from flightdeck.web import PAGES


def test_start_page_links_lead_to_pages_that_explain_keys(
    local_server: ServerThread, browser: Any
) -> None:
    page = browser.new_page(bypass_csp=False)  # under the pages' real policy
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    response = page.goto(local_server.url + "/")
    assert (
        response.status == 200
        and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    )
    hrefs = page.eval_on_selector_all("#pages a", "as => as.map(a => a.getAttribute('href'))")
    assert hrefs == [path for _, path in PAGES[1:]]
    assert page.locator("#link-assistant").is_visible()

    page.click("#link-assistant")
    page.wait_for_url("**/app/")
    help_text = page.locator("#key-help")
    assert help_text.is_visible() and "flightdeck keys create" in help_text.inner_text()
    page.fill("#api-key", local_server.api_key)
    page.dispatch_event("#api-key", "change")
    assert not help_text.is_visible()

    page.goto(local_server.url + "/app/search.html")  # the key was kept in this browser
    page.wait_for_selector("#key-help", state="hidden")
    assert page.input_value("#api-key") == local_server.api_key
    page.fill("#api-key", "")
    assert page.locator("#key-help").is_visible()
    assert "flightdeck up" in page.inner_text("#key-help")
    assert blocked == []
