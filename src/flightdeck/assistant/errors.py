"""Assistant errors, under the one tree of ``flightdeck.core.errors``.

InvalidRequest
+-- PageError          one page cannot be used (bad PDF, nothing extracted); names the page
"""

from __future__ import annotations

from flightdeck.core.errors import InvalidRequest


class PageError(InvalidRequest):
    """A page the assistant cannot read; ``page`` is its index in the request."""

    code = "page_unreadable"

    def __init__(self, page: int, message: str, *, code: str | None = None) -> None:
        super().__init__(f"page {page}: {message}", param=f"pages[{page}]", code=code)
        self.page = page
