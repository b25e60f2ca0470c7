"""The media plane: manifests of images and videos to a deduplicated, featurized store.

Import from the submodules (``flightdeck.mediastore.store``, ``.ingest``, ``.options``, ...): this
package imports nothing itself, so an ingest worker that loads ``flightdeck.media.stages``
does not load the whole plane.
"""
