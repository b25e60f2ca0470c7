"""The media store format: sharded Parquet files plus a checksummed manifest.

The media pipeline (``flightdeck.media``) writes it; the search plane reads it. Import from the
submodules (``store``, ``schema``, ``errors``).
"""
