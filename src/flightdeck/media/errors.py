"""Errors of the media plane.

    FlightdeckError
    +-- MediaError                   something in the media pipeline went wrong
        +-- SourceError              the SOURCE cannot be read (missing file, no URL column, ...)
        +-- DocumentFailed           one document failed; ``reason`` is recorded in its row

The store's ``StoreError`` lives in :mod:`flightdeck.mediastore.errors` and a model's
``ModelLoadError`` in :mod:`flightdeck.encoders.errors` (search raises them too).

``DocumentFailed`` never escapes a stage: stages catch it and turn it into a failure row whose
``error`` column holds ``reason`` (one of :class:`FailureReason`).
"""

from __future__ import annotations

from enum import StrEnum

from flightdeck.core.errors import FlightdeckError


class FailureReason(StrEnum):
    """Why a document has no image; written to the ``error`` column."""

    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    TOO_LARGE = "too_large"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    ROBOTS_NOAI = "robots_noai"
    PRIVATE_ADDRESS = "private_address"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"
    NOT_FOUND = "not_found"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TRUNCATED = "truncated"
    UNDECODABLE = "undecodable"
    VIDEO_UNDECODABLE = "video_undecodable"
    WORKER_CRASHED = "worker_crashed"  # the worker died on it (a decoder crash, out of memory)
    SCHEME_NOT_ALLOWED = "scheme_not_allowed"  # not http(s), not an allowed scheme, or chained
    LOCAL_PATH_NOT_ALLOWED = "local_path_not_allowed"  # a local path in a non-local SOURCE
    UNREADABLE = "unreadable"  # a local path that is not a readable regular file
    BAD_MANIFEST_ROW = "bad_manifest_row"  # the manifest row itself is malformed
    PROCESSING_ERROR = "processing_error"  # anything unforeseen while processing this input

    @property
    def retryable(self) -> bool:
        """Failures that ``--retry-failed`` tries again: transient network trouble, and a dead
        worker (out of memory passes with fewer workers; a real decoder crash fails again)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        FailureReason.TIMEOUT,
        FailureReason.CONNECTION,
        FailureReason.HTTP_5XX,
        FailureReason.WORKER_CRASHED,
    }
)


class MediaError(FlightdeckError):
    """Root of the media plane's errors."""


class SourceError(MediaError):
    """The SOURCE cannot be read as a manifest, folder or list of videos."""


class DocumentFailed(MediaError):
    """One document failed for ``reason``; turned into a failure row, never raised further."""

    def __init__(self, reason: FailureReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
