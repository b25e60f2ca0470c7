"""The /app/search.html grid in real Chromium: pick a collection, search, see thumbnails."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import wait_until
from tests.search import conftest as search_fixtures
from tests.search.conftest import PHOTOS, World

# The search tests' fixtures: stores built by the media pipeline and a server with tenants.
built_stores = search_fixtures.built_stores
media_root = search_fixtures.media_root
world = search_fixtures.world


def test_search_shows_a_grid_of_thumbnails_with_captions(world: World, browser: Any) -> None:
    page = browser.new_page()
    page.goto(world.server.url + "/app/search.html")
    page.fill("#api-key", world.keys["globex_admin"])
    page.dispatch_event("#api-key", "change")
    wait_until(page, "document.querySelector('#collection').options.length === 2")
    assert page.eval_on_selector_all("#collection option", "os => os.map(o => o.value)") == [
        "photos",
        "secrets",
    ]
    # acme's key sees only acme's collection, and its results.
    page.fill("#api-key", world.keys["acme_member"])
    page.dispatch_event("#api-key", "change")
    wait_until(page, "document.querySelector('#collection').options.length === 1")
    page.select_option("#collection", "photos")
    page.fill("#query", "a sailboat at sunset")
    page.fill("#k", "3")
    page.click("#search-button")
    page.wait_for_selector(r"#status:text-matches('^[123] results?\.$')", timeout=60_000)
    cards = page.locator("#results li")
    assert 1 <= cards.count() <= 3
    assert cards.nth(0).locator(".caption").inner_text() == PHOTOS[5][0]
    assert cards.nth(0).locator(".score").inner_text().startswith("score 0.")
    loaded = "[...document.querySelectorAll('#results img')].every(i => i.naturalWidth > 0)"
    wait_until(page, loaded)
    assert page.eval_on_selector("#results img", "i => i.naturalWidth") >= 256
    # Only good matches: a query close to one photo shows that one, not k.
    page.fill("#query", "a kitten napping on a couch")
    page.click("#search-button")
    page.wait_for_selector("#status:has-text('1 result.')", timeout=30_000)
    assert cards.count() == 1 and cards.nth(0).locator(".caption").inner_text() == PHOTOS[3][0]
    page.wait_for_function(loaded, timeout=30_000)
    # A card opens the document: the image, caption, source (no server path) and metadata.
    cards.nth(0).click()
    dialog = page.locator("#document")
    dialog.wait_for(state="visible")
    assert page.inner_text("#document-caption") == PHOTOS[3][0]
    details = page.inner_text("#document-details")
    assert "3.jpg" in details and str(world.root) not in details and "/tmp" not in details
    assert "animals" in details and "cc-by" in details and "320 \u00d7 240 px" in details
    assert page.eval_on_selector("#document-image", "i => i.naturalWidth") >= 256
    page.click("#document-close")
    dialog.wait_for(state="hidden")
    # Nonsense finds nothing, and the page says so instead of showing the k least bad photos.
    page.fill("#query", "qwzx blorf")
    page.click("#search-button")
    page.wait_for_selector("#status.no-match", timeout=30_000)
    assert "no good match" in page.inner_text("#status") and cards.count() == 0
    # An unknown collection is an error message, not an empty grid.
    page.evaluate("document.querySelector('#collection').add(new Option('secrets', 'secrets'))")
    page.select_option("#collection", "secrets")
    page.click("#search-button")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "does not exist" in page.inner_text("#status")
