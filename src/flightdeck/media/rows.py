"""The columns every row of a source record has, and a failed row."""

from __future__ import annotations

from flightdeck.media.errors import DocumentFailed
from flightdeck.media.sources import SourceRecord, storable_text
from flightdeck.mediastore.schema import Kind, Row, Status


def base_row(record: SourceRecord, source_key: str) -> Row:
    """The columns every row of ``record`` has, whatever happens to it. Its location and
    caption are stored as ``storable_text`` (the id and fingerprint keep the exact text)."""
    return {
        "doc_id": record.doc_id,
        "source_key": source_key,
        "input_index": record.index,
        "source": storable_text(record.location),
        "fingerprint": record.fingerprint,
        "kind": Kind.VIDEO.value if record.is_video else Kind.IMAGE.value,
        "caption": None if record.caption is None else storable_text(record.caption),
        "metadata": record.metadata,
    }


def failure_row(base: Row, failed: DocumentFailed) -> Row:
    """``base`` as a failed row: ``error`` is the reason, ``error_detail`` the message."""
    return base | {
        "status": Status.FAILED.value,
        "error": failed.reason.value,
        "error_detail": storable_text(failed.detail[:500]),  # it may quote the location
    }
