"""Real media stores for the search tests: generated images with captions, ingested by the
media pipeline (real MiniLM caption embeddings), plus a server with tenants and keys."""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import Settings, load_settings
from flightdeck.media.engines.local import LocalEngine
from flightdeck.media.ingest import IngestReport, ingest
from flightdeck.media.options import FeatureOptions, IngestOptions
from flightdeck.media.sources import open_source
from flightdeck.mediastore.store import MediaStore
from flightdeck.store.database import Store
from flightdeck.testing.server import ServerThread
from tests.media.conftest import textured_jpeg

# seed -> (caption, metadata): captions far apart in meaning, so MiniLM ranks them clearly.
PHOTOS = {
    1: ("a red sports car racing on a track", {"topic": "vehicles", "license": "cc0"}),
    2: ("a bowl of hot tomato soup with bread", {"topic": "food", "license": "cc0"}),
    3: ("a cat sleeping on a sofa", {"topic": "animals", "license": "cc-by"}),
    4: ("snowy mountains under a blue sky", {"topic": "nature", "license": "cc0"}),
    5: ("a sailboat on the ocean at sunset", {"topic": "vehicles", "license": "cc-by"}),
}
SECRETS = {
    11: ("a golden crown in a museum vault", {"topic": "treasure"}),
    12: ("an old map of a pirate island", {"topic": "treasure"}),
}


def ingest_photos(
    store: Path,
    photos: dict[int, tuple[str, dict[str, Any]]],
    name: str,
    *,
    duplicate: int = 0,
    features: FeatureOptions | None = None,
) -> IngestReport:
    """Write the images and a JSON-lines manifest next to ``store``, then ingest them."""
    folder = store.parent / f"{name}-inputs"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for seed, (caption, metadata) in photos.items():
        (folder / f"{seed}.jpg").write_bytes(textured_jpeg(seed))
        lines.append(
            {"path": f"{seed}.jpg", **({"caption": caption} if caption else {}), **metadata}
        )
    if duplicate:  # the same bytes again: written as a duplicate of the first, not indexed
        (folder / "copy.jpg").write_bytes(textured_jpeg(duplicate))
        lines.append({"path": "copy.jpg", "caption": "a copy", "topic": "copies"})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    engine = LocalEngine(1)
    try:
        return ingest(
            open_source([str(manifest)]),
            MediaStore.open_writer(str(store)),
            IngestOptions(shard_size=3, features=features or FeatureOptions()),
            engine,
        )
    finally:
        engine.close()


@pytest.fixture(scope="session")
def built_stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``photos`` (five captioned images and a duplicate) and ``secrets`` (two), built once."""
    base = tmp_path_factory.mktemp("built")
    ingest_photos(base / "photos", PHOTOS, "photos", duplicate=1)
    ingest_photos(base / "secrets", SECRETS, "secrets")
    return base


def tenant_store(root: Path, tenant: str, name: str) -> Path:
    """Where a tenant's store ``name`` lies under a search root (the tenant owns it)."""
    return root / "tenants" / tenant / name


def place_store(root: Path, built: Path, store: str, tenant: str, name: str = "") -> Path:
    """A fresh copy of the built ``store`` in ``tenant``'s folder of ``root``."""
    target = tenant_store(root, tenant, name or store)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(built / store, target)
    return target


@pytest.fixture
def media_root(tmp_path: Path, built_stores: Path) -> Path:
    """A search root holding fresh copies of the built stores (tests may change them): acme's
    ``photos`` and globex's ``secrets``, each in its tenant's folder."""
    root = tmp_path / "media"
    root.mkdir()
    place_store(root, built_stores, "photos", "acme")
    place_store(root, built_stores, "secrets", "globex")
    return root


@dataclass
class World:
    """A running server with tenants acme and globex, their keys, and their collections."""

    server: ServerThread
    keys: dict[str, str]
    root: Path

    def store(self, tenant: str, name: str) -> Path:
        return tenant_store(self.root, tenant, name)

    def call(
        self, method: str, path: str, caller: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        status, headers, raw = self.raw(method, path, caller, body)
        is_json = headers.get("content-type", "").startswith("application/json")
        return status, json.loads(raw) if raw and is_json else None

    def raw(
        self, method: str, path: str, caller: str | None = None, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": f"Bearer {self.keys[caller]}"} if caller else {}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.server.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, got, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            status, got, raw = err.code, dict(err.headers), err.read()
        return status, {k.lower(): v for k, v in got.items()}, raw

    def search(self, caller: str, collection: str, query: str, **more: Any) -> tuple[int, Any]:
        return self.call(
            "POST", "/v1/search", caller, {"collection": collection, "query": query, **more}
        )


def search_settings(home: Path, root: Path) -> Settings:
    return load_settings(
        None,
        {},
        defaults={
            "home": str(home),
            "server": {"port": 0},
            "auth": {"key_cache_seconds": 0},
            "search": {"roots": [str(root)], "manifest_check_seconds": 0},
        },
    )


async def _tenants_and_keys(settings: Settings) -> dict[str, str]:
    store = Store(settings.store_url)
    try:
        await store.migrate()
        for name in ("acme", "globex"):
            await TenantStore(store).create(name)
        keys = {}
        for caller, tenant, role in [
            ("acme_admin", "acme", Role.ADMIN),
            ("acme_member", "acme", Role.MEMBER),
            ("globex_admin", "globex", Role.ADMIN),
        ]:
            _, keys[caller] = await KeyStore(store).create(caller, role=role, tenant=tenant)
        return keys
    finally:
        await store.close()


@pytest.fixture
def world(tmp_path: Path, media_root: Path) -> Iterator[World]:
    """acme owns ``photos``; globex owns ``secrets`` and a ``photos`` of its own (its store)."""
    settings = search_settings(tmp_path / "home", media_root)
    keys = asyncio.run(_tenants_and_keys(settings))
    with ServerThread(settings) as server:
        keys["platform"] = server.api_key
        w = World(server, keys, media_root)
        for caller, name, store in [
            ("acme_admin", "photos", "acme/photos"),
            ("globex_admin", "secrets", "globex/secrets"),
            ("globex_admin", "photos", "globex/secrets"),
        ]:
            uri = str(media_root / "tenants" / store)
            status, body = w.call("POST", "/admin/collections", caller, {"name": name, "uri": uri})
            assert status == 201, body
        yield w
