"""The Ray engine on a local Ray with 2 CPUs writes exactly what the local engine writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.engines.ray import RayEngine
from flightdeck.media.ingest import ingest
from flightdeck.media.sources import open_source
from flightdeck.mediastore.store import MediaStore
from tests.media.conftest import ServedFiles, textured_jpeg
from tests.media.test_ingest import OPTIONS, write_manifest


@pytest.mark.slow
def test_ray_engine_output_is_identical_to_local(http_files: ServedFiles, tmp_path: Path) -> None:
    urls = [http_files.add(f"/{i}.jpg", textured_jpeg(200 + i)) for i in range(9)]
    urls += [
        http_files.add("/copy.jpg", textured_jpeg(200)),
        http_files.add("/bad", b"<html/>", "text/html"),
    ]
    manifest = str(write_manifest(tmp_path / "m.jsonl", urls))
    tables = {}
    for name, engine in (("local", LocalEngine(2)), ("ray", RayEngine(2))):
        try:
            store = MediaStore.open_writer(str(tmp_path / name))
            report = ingest(open_source([manifest]), store, OPTIONS, engine)
        finally:
            engine.close()
        assert report.documents == len(urls)
        tables[name] = MediaStore.open(str(tmp_path / name)).read_all()
    assert tables["ray"].num_rows == len(urls)
    assert tables["ray"].equals(tables["local"])
    assert tables["ray"].column("status").to_pylist().count("duplicate") == 1
