"""``flightdeck collections``, ``flightdeck stores`` and ``flightdeck search`` as an operator runs
them."""

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
        "collections", "create", "photos", "photos", "--tenant", "acme", *c, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert "created collection photos of tenant acme" in created.stdout
    listed = flightdeck("collections", "list", "--tenant", "acme", *c, cwd=tmp_path)
    acme_photos = media_root / "tenants" / "acme" / "photos"
    assert "photos" in listed.stdout and str(acme_photos) in listed.stdout
    assert "photos" not in flightdeck("collections", "list", *c, cwd=tmp_path).stdout

    found = flightdeck(
        "search",
        "photos",
        "a kitten napping",
        "--tenant",
        "acme",
        "-k",
        "2",
        "--min-score",
        "-1",
        *c,
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    rows = [line for line in found.stdout.splitlines() if line.startswith("│ ")]
    assert len(rows) == 2 and PHOTOS[3][0] in rows[0]
    nothing = flightdeck("search", "photos", "qwzx blorf", "--tenant", "acme", *c, cwd=tmp_path)
    assert nothing.returncode == 1 and "no good match" in nothing.stderr
    assert "│" not in nothing.stdout

    other = flightdeck("search", "photos", "cat", *c, cwd=tmp_path)  # the platform tenant's
    assert other.returncode == 2 and "collection 'photos' does not exist" in other.stderr
    deleted = flightdeck("collections", "delete", "photos", "--tenant", "acme", *c, cwd=tmp_path)
    assert deleted.returncode == 0 and (acme_photos / "manifest.json").exists()


def test_collections_create_errors_are_one_line(tmp_path: Path, media_root: Path) -> None:
    config = tmp_path / "fd.toml"
    config.write_text(f'[search]\nroots = ["{media_root}"]\n')
    c = ("--config", str(config))
    outside = flightdeck("collections", "create", "x", "/etc", *c, cwd=tmp_path)
    assert outside.returncode == 2 and "not under a configured search root" in outside.stderr
    assert f"allowed roots (setting search.roots): {media_root}" in outside.stderr
    assert len(outside.stderr.strip().splitlines()) == 1
    no_tenant = flightdeck(
        "collections",
        "create",
        "x",
        str(media_root / "tenants" / "nope" / "photos"),
        "--tenant",
        "nope",
        *c,
        cwd=tmp_path,
    )
    assert no_tenant.returncode == 2 and "tenant 'nope' does not exist" in no_tenant.stderr
    (media_root / "tenants" / "default" / "empty").mkdir(parents=True)
    empty = str(media_root / "tenants" / "default" / "empty")
    no_store = flightdeck("collections", "create", "x", empty, *c, cwd=tmp_path)
    assert no_store.returncode == 2 and "has no manifest.json" in no_store.stderr
    not_owned = flightdeck("collections", "create", "x", str(media_root), *c, cwd=tmp_path)
    assert not_owned.returncode == 2 and "not shared with it" in not_owned.stderr


def test_a_store_is_shared_with_another_tenant_by_name(tmp_path: Path, media_root: Path) -> None:
    config = tmp_path / "fd.toml"
    config.write_text(f'[search]\nroots = ["{media_root}"]\n')
    c = ("--config", str(config))
    for tenant in ("acme", "globex"):
        assert flightdeck("tenants", "create", tenant, *c, cwd=tmp_path).returncode == 0
    store = str(media_root / "tenants" / "globex" / "secrets")
    refused = flightdeck("collections", "create", "s", store, "--tenant", "acme", *c, cwd=tmp_path)
    assert refused.returncode == 2 and "not shared with it" in refused.stderr
    shared = flightdeck(
        "stores", "share", store, "--tenant", "acme", "--name", "vault", *c, cwd=tmp_path
    )
    assert shared.returncode == 0 and "as shared:vault" in shared.stdout, shared.stderr
    made = flightdeck(
        "collections", "create", "s", "shared:vault", "--tenant", "acme", *c, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    listed = flightdeck("stores", "shares", "--tenant", "acme", *c, cwd=tmp_path)
    assert "vault" in listed.stdout
    unshared = flightdeck("stores", "unshare", "vault", "--tenant", "acme", *c, cwd=tmp_path)
    assert unshared.returncode == 0
    closed = flightdeck("search", "s", "crown", "--tenant", "acme", *c, cwd=tmp_path)
    assert closed.returncode == 2 and "not shared with it" in closed.stderr


def test_a_missing_store_on_default_settings_names_the_roots(tmp_path: Path) -> None:
    """docs/search.md's example before the store exists: the error says where stores lie."""
    assert flightdeck("tenants", "create", "acme", cwd=tmp_path).returncode == 0
    missing = flightdeck(
        "collections", "create", "photos", "photos", "--tenant", "acme", cwd=tmp_path
    )
    root = tmp_path / ".flightdeck" / "media"
    assert missing.returncode == 2 and "does not exist or does not open" in missing.stderr
    assert f"allowed roots (setting search.roots): {root}" in missing.stderr
    assert f"{root}/tenants/acme/" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
