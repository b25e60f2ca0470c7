"""Issue #11, findings 1 and 2, replayed against real servers on loopback.

1. A tenant admin pointed a collection at another tenant's media store (the only check was that
   it lay under the shared search roots) and got its search results and thumbnails.
2. OAuth identities were not bound to their issuer: a second issuer's token naming the platform
   tenant with an admin claim became platform admin, and a token with the same ``sub`` as a user
   registered from the first issuer inherited that user's role and conversations.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import Settings, load_settings
from flightdeck.store.database import Store
from flightdeck.testing.server import ServerThread
from tests.auth.jwks_issuer import LocalIssuer
from tests.search.conftest import place_store
from tests.security.conftest import PAGE, IssuerThread, built_stores  # noqa: F401


@dataclass
class Served:
    server: ServerThread
    keys: dict[str, str]

    def call(self, method: str, path: str, credential: str, body: Any = None) -> tuple[int, Any]:
        secret = self.keys.get(credential, credential)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.server.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
                kind = response.headers.get("content-type", "")
        except urllib.error.HTTPError as err:
            status, raw, kind = err.code, err.read(), err.headers.get("content-type", "")
        return status, json.loads(raw) if raw and kind.startswith("application/json") else raw


async def _seed(settings: Settings) -> dict[str, str]:
    store = Store(settings.store_url)
    keys = {}
    try:
        await store.migrate()
        for tenant in ("acme", "globex"):
            await TenantStore(store).create(tenant)
            _, keys[f"{tenant}_admin"] = await KeyStore(store).create(
                f"{tenant} admin", role=Role.ADMIN, tenant=tenant
            )
    finally:
        await store.close()
    return keys


@contextmanager
def serve(home: Path, **sections: Any) -> Iterator[Served]:
    defaults: dict[str, Any] = {"home": str(home), "server": {"port": 0}}
    defaults["auth"] = {"key_cache_seconds": 0, **sections.pop("auth", {})}
    settings = load_settings(None, {}, defaults=defaults | sections)
    keys = asyncio.run(_seed(settings))
    with ServerThread(settings) as server:
        yield Served(server, keys | {"platform": server.api_key})


# -- finding 1: stores belong to tenants ---------------------------------------------------------


@pytest.fixture
def search_server(tmp_path: Path, built_stores: Path) -> Iterator[tuple[Served, Path]]:  # noqa: F811
    root = tmp_path / "media"
    place_store(root, built_stores, "photos", "acme")
    place_store(root, built_stores, "secrets", "globex")
    search = {"roots": [str(root)], "manifest_check_seconds": 0}
    with serve(tmp_path / "home", search=search) as served:
        body = {"name": "photos", "uri": str(root / "tenants" / "acme" / "photos")}
        status, made = served.call("POST", "/admin/collections", "acme_admin", body)
        assert status == 201, made
        yield served, root


def test_another_tenants_store_cannot_back_a_collection(search_server: tuple[Served, Path]) -> None:
    served, root = search_server
    acme_store = root / "tenants" / "acme" / "photos"
    (root / "tenants" / "globex" / "link").symlink_to(acme_store)
    attacks = {
        str(acme_store): 403,  # the finding itself: a store of acme's, under the shared root
        str(root / "tenants" / "globex" / "link"): 403,  # a link in globex's folder to it
        f"file://{acme_store}": 403,
        str(root / "tenants" / "globex" / ".." / "acme" / "photos"): 400,
        "../acme/photos": 400,
        "link": 403,  # globex's own name for the link still resolves to acme's store
        str(root): 403,  # the root itself belongs to nobody
    }
    for uri, expected in attacks.items():
        status, answer = served.call(
            "POST", "/admin/collections", "globex_admin", {"name": "loot", "uri": uri}
        )
        assert status == expected, (uri, answer)
        assert str(root) not in answer["error"]["message"] or uri.startswith(("/", "file:"))
    status, answer = served.call(
        "POST", "/v1/search", "globex_admin", {"collection": "loot", "query": "a red car"}
    )
    assert status == 404 and answer["error"]["code"] == "collection_not_found"


def test_tenants_see_no_server_paths(search_server: tuple[Served, Path]) -> None:
    served, root = search_server
    status, listed = served.call("GET", "/admin/collections", "acme_admin")
    assert status == 200 and [c["uri"] for c in listed] == ["photos"]
    status, found = served.call(
        "POST", "/v1/search", "acme_admin", {"collection": "photos", "query": "a red car"}
    )
    assert status == 200
    sources = [hit["source"] for hit in found["data"]]
    assert sources and not any(str(root.parent) in s or s.startswith("/") for s in sources)
    # a platform admin manages stores, and sees where they are
    status, listed = served.call("GET", "/admin/collections?tenant=acme", "platform")
    assert [c["uri"] for c in listed] == [str((root / "tenants/acme/photos").resolve())]


def test_a_shared_store_serves_only_while_the_share_lasts(
    search_server: tuple[Served, Path],
) -> None:
    served, root = search_server
    secrets = str(root / "tenants" / "globex" / "secrets")
    share = {"tenant": "acme", "uri": secrets, "name": "vault"}
    assert served.call("POST", "/admin/store-shares", "acme_admin", share)[0] == 403
    assert served.call("POST", "/admin/store-shares", "globex_admin", share)[0] == 403
    status, made = served.call("POST", "/admin/store-shares", "platform", share)
    assert status == 201 and made["name"] == "vault", made
    body = {"name": "vault", "uri": "shared:vault"}
    status, made = served.call("POST", "/admin/collections", "acme_admin", body)
    assert status == 201 and made["uri"] == "shared:vault", made
    status, listed = served.call("GET", "/admin/store-shares", "acme_admin")
    assert [(s["name"], s["uri"]) for s in listed] == [("vault", None)]
    query = {"collection": "vault", "query": "a golden crown"}
    status, found = served.call("POST", "/v1/search", "acme_admin", query)
    assert status == 200 and found["data"][0]["caption"] == "a golden crown in a museum vault"
    thumbnail = found["data"][0]["thumbnail_url"]
    assert served.call("GET", thumbnail, "acme_admin")[0] == 200

    assert served.call("DELETE", "/admin/store-shares/vault?tenant=acme", "platform")[0] == 204
    status, answer = served.call("POST", "/v1/search", "acme_admin", query)
    assert status == 403 and answer["error"]["code"] == "store_not_owned"
    assert served.call("GET", thumbnail, "acme_admin")[0] == 403
    status, listed = served.call("GET", "/admin/collections", "acme_admin")
    assert {c["name"]: c["uri"] for c in listed}["vault"] == "unavailable"


# -- finding 2: identities bound to their issuer --------------------------------------------------


@contextmanager
def issuers(count: int) -> Iterator[list[LocalIssuer]]:
    with ExitStack() as stack:
        yield [stack.enter_context(IssuerThread(f"idp-{n}")) for n in range(count)]


def issuer_config(local: LocalIssuer, **more: Any) -> dict[str, Any]:
    return {"issuer": local.issuer, "jwks_url": local.jwks_url, "audience": "flightdeck"} | more


def test_an_admin_claim_for_the_platform_tenant_is_not_platform_admin(tmp_path: Path) -> None:
    with (
        issuers(1) as (idp,),
        serve(tmp_path, auth={"oauth": {"issuers": [issuer_config(idp)]}}) as served,
    ):
        token = idp.token(sub="someone", tid="default", roles=["admin"])
        status, answer = served.call("POST", "/admin/tenants", token, {"name": "evil"})
        assert status == 403, answer
        status, listed = served.call("GET", "/admin/keys?tenant=acme", token)
        assert status == 403, listed


def test_a_second_issuer_speaks_only_for_its_own_tenants(tmp_path: Path) -> None:
    with issuers(2) as (idp_a, idp_b):
        oauth = {
            "issuers": [
                issuer_config(idp_a, tenants=["default", "acme"], platform_admin=True),
                issuer_config(idp_b, tenants=["globex"]),
            ]
        }
        with serve(tmp_path, auth={"oauth": oauth}) as served:
            for tenant in ("default", "acme"):
                forged = idp_b.token(sub="mallory", tid=tenant, roles=["admin"])
                status, answer = served.call("GET", "/admin/tenants", forged)
                assert status == 403, answer
                assert answer["error"]["code"] == "issuer_not_allowed_for_tenant"
            trusted = idp_a.token(sub="ops", tid="default", roles=["admin"])
            assert served.call("POST", "/admin/tenants", trusted, {"name": "initech"})[0] == 201


def test_the_same_sub_from_another_issuer_is_another_user(tmp_path: Path) -> None:
    with issuers(2) as (idp_a, idp_b):
        oauth = {
            "issuers": [
                issuer_config(idp_a, tenants=["acme"]),
                issuer_config(idp_b, tenants=["acme", "globex"]),
            ]
        }
        models = [{"name": "local/extractive", "provider": "local-extractive"}]
        with serve(
            tmp_path, auth={"oauth": oauth}, models=models, assistant={"embeddings": False}
        ) as served:
            alice = {"name": "alice", "subject": "sub-1", "role": "admin", "issuer": idp_a.issuer}
            status, made = served.call("POST", "/admin/users", "acme_admin", alice)
            assert status == 201 and made["issuer"] == idp_a.issuer, made
            real = idp_a.token(sub="sub-1", tid="acme", roles=[])
            ask = {"model": "local/extractive", "question": "How far?", "pages": [PAGE]}
            status, reply = served.call("POST", "/v1/assistant/chat", real, ask | {"stream": False})
            assert status == 200, reply
            conversation = reply["conversation_id"]

            twin = idp_b.token(sub="sub-1", tid="acme", roles=["viewer"])
            assert served.call("POST", "/admin/keys", twin, {"name": "x"})[0] == 403  # not admin
            status, listed = served.call("GET", "/v1/assistant/conversations", twin)
            assert status == 200 and listed["data"] == []
            path = f"/v1/assistant/conversations/{conversation}"
            assert served.call("GET", path, twin)[0] == 404
            assert served.call("DELETE", path, twin)[0] == 404
            assert served.call("GET", path, real)[0] == 200


def test_a_token_for_a_tenant_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with (
        issuers(1) as (idp,),
        serve(tmp_path, auth={"oauth": {"issuers": [issuer_config(idp)]}}) as served,
    ):
        token = idp.token(sub="u", tid="nowhere", roles=["admin"])
        status, answer = served.call("GET", "/admin/keys", token)
        assert status == 403 and answer["error"]["code"] == "tenant_not_found", answer
        assert served.call("GET", "/admin/keys", idp.token(sub="u", tid="acme"))[0] == 200


def test_an_issuer_configured_to_provision_tenants_creates_them(tmp_path: Path) -> None:
    with issuers(1) as (idp,):
        oauth = {"issuers": [issuer_config(idp, provision_tenants=True)]}
        with serve(tmp_path, auth={"oauth": oauth}) as served:
            made = idp.token(sub="u", tid="newco", roles=["admin"])
            assert served.call("GET", "/admin/keys", made)[0] == 200
            _, tenants = served.call("GET", "/admin/tenants", "platform")
            assert "newco" in [t["name"] for t in tenants]
            reserved = idp.token(sub="u", tid="admin", roles=["admin"])
            status, answer = served.call("GET", "/admin/keys", reserved)
            assert status == 403 and "reserved" in answer["error"]["message"]
