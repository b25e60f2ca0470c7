"""``flightdeck collections`` and ``flightdeck search`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import flightdeck
from tests.search.conftest import PHOTOS


def test_collections_create_list_search_delete(tmp_path: Path, media_root: Path) -> None:
    config = tmp_path / "fd.toml"
    config.write_text(f'[search]\nroots = ["{media_root}"]\n')
    c = ("--config", str(config))
    assert flightdeck("tenants", "create", "acme", *c, cwd=tmp_path).returncode == 0
    created = flightdeck(
        "collections", "create", "photos", "media/photos", "--tenant", "acme", *c, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert "created collection photos of tenant acme" in created.stdout
    listed = flightdeck("collections", "list", "--tenant", "acme", *c, cwd=tmp_path)
    assert "photos" in listed.stdout and str(media_root / "photos") in listed.stdout
    assert "photos" not in flightdeck("collections", "list", *c, cwd=tmp_path).stdout

    found = flightdeck(
        "search", "photos", "a kitten napping", "--tenant", "acme", "-k", "2", *c, cwd=tmp_path
    )
    assert found.returncode == 0, found.stderr
    rows = [line for line in found.stdout.splitlines() if line.startswith("│ ")]
    assert len(rows) == 2 and PHOTOS[3][0] in rows[0]

    other = flightdeck("search", "photos", "cat", *c, cwd=tmp_path)  # the platform tenant's
    assert other.returncode == 2 and "collection 'photos' does not exist" in other.stderr
    deleted = flightdeck("collections", "delete", "photos", "--tenant", "acme", *c, cwd=tmp_path)
    assert deleted.returncode == 0 and (media_root / "photos" / "manifest.json").exists()


def test_collections_create_errors_are_one_line(tmp_path: Path, media_root: Path) -> None:
    config = tmp_path / "fd.toml"
    config.write_text(f'[search]\nroots = ["{media_root}"]\n')
    c = ("--config", str(config))
    outside = flightdeck("collections", "create", "x", "/etc", *c, cwd=tmp_path)
    assert outside.returncode == 2 and "not under a configured search root" in outside.stderr
    assert len(outside.stderr.strip().splitlines()) == 1
    no_tenant = flightdeck(
        "collections",
        "create",
        "x",
        str(media_root / "photos"),
        "--tenant",
        "nope",
        *c,
        cwd=tmp_path,
    )
    assert no_tenant.returncode == 2 and "tenant 'nope' does not exist" in no_tenant.stderr
    no_store = flightdeck("collections", "create", "x", str(media_root), *c, cwd=tmp_path)
    assert no_store.returncode == 2 and "has no manifest.json" in no_store.stderr
