"""The media plane: manifests of images and videos to a deduplicated, featurized store."""

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
