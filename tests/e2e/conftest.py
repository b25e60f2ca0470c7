"""Real Chromium (from apt, /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.tenancy_support.services import fresh_pg_url, pg_database  # noqa: F401

CHROMIUM = os.environ.get("FLIGHTDECK_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{CHROMIUM} is missing on CI: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} not installed (make tools-chromium)")
    return CHROMIUM


@pytest.fixture
def playwright() -> Iterator[Any]:
    """Playwright's sync API runs a loop in this thread: request servers before this fixture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Any) -> Iterator[Any]:
    b = playwright.chromium.launch(executable_path=chromium_path(), args=ARGS)
    # The pages' Content-Security-Policy forbids eval, which Playwright's string predicates
    # (wait_for_function) use: pages bypass it unless a test asks for it (bypass_csp=False),
    # as tests/e2e/test_start_page.py does to prove the policy blocks nothing the pages use.
    new_page = b.new_page
    b.new_page = lambda **options: new_page(**{"bypass_csp": True, **options})
    yield b
    b.close()


def wait_until(page: Any, expression: str, timeout: float = 30.0) -> None:
    """Poll ``expression`` in the page. (Playwright's ``wait_for_function`` evaluates its
    predicate with ``eval``, which the pages' Content-Security-Policy blocks.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)
