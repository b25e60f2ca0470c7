"""The media plane: manifests of images and videos to a deduplicated, featurized store."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flightdeck.media.errors import FailureReason, MediaError, SourceError, StoreError
    from flightdeck.media.ingest import IngestReport, ingest, retry_failed
    from flightdeck.media.options import (
        FeatureOptions,
        FetchOptions,
        ImageOptions,
        IngestOptions,
        KeyframeMode,
        ResizeMode,
        VideoOptions,
    )
    from flightdeck.media.schema import SCHEMA, Kind, Status
    from flightdeck.media.sources import Source, SourceRecord, document_id, open_source
    from flightdeck.media.store import MediaStore

# Loaded on first use (PEP 562): importing one submodule, as the ingest workers do, does not
# import the whole plane.
_EXPORTS = {
    "FailureReason": "flightdeck.media.errors",
    "FeatureOptions": "flightdeck.media.options",
    "FetchOptions": "flightdeck.media.options",
    "ImageOptions": "flightdeck.media.options",
    "IngestOptions": "flightdeck.media.options",
    "IngestReport": "flightdeck.media.ingest",
    "KeyframeMode": "flightdeck.media.options",
    "Kind": "flightdeck.media.schema",
    "MediaError": "flightdeck.media.errors",
    "MediaStore": "flightdeck.media.store",
    "ResizeMode": "flightdeck.media.options",
    "SCHEMA": "flightdeck.media.schema",
    "Source": "flightdeck.media.sources",
    "SourceError": "flightdeck.media.errors",
    "SourceRecord": "flightdeck.media.sources",
    "Status": "flightdeck.media.schema",
    "StoreError": "flightdeck.media.errors",
    "VideoOptions": "flightdeck.media.options",
    "document_id": "flightdeck.media.sources",
    "ingest": "flightdeck.media.ingest",
    "open_source": "flightdeck.media.sources",
    "retry_failed": "flightdeck.media.ingest",
}


__all__ = [
    "SCHEMA",
    "FailureReason",
    "FeatureOptions",
    "FetchOptions",
    "ImageOptions",
    "IngestOptions",
    "IngestReport",
    "KeyframeMode",
    "Kind",
    "MediaError",
    "MediaStore",
    "ResizeMode",
    "Source",
    "SourceError",
    "SourceRecord",
    "Status",
    "StoreError",
    "VideoOptions",
    "document_id",
    "ingest",
    "open_source",
    "retry_failed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
