"""Two hostile tenants on one real server: the victim ``acme`` and the attacker ``globex``.

Each tenant has admin, member and viewer keys; acme also has a service account with a key, a
registered OAuth user (``alice``, from acme's identity provider), a platform-set ceiling and a
tenant-set limit, a collection over its own media store, a store a platform admin shared with it,
and conversations (one of a key, one of alice). globex has its own identity provider, which
issues a token with alice's very ``sub``. Both identity providers serve real JWKS on loopback.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flightdeck.auth.accounts import AccountKind, AccountStore
from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import Settings, load_settings
from flightdeck.core.tenancy_settings import LimitRule
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.limits.policy import Level, PolicyStore
from flightdeck.store.database import Store
from flightdeck.testing.server import ServerThread
from tests.auth.jwks_issuer import LocalIssuer, rsa_key
from tests.search import conftest as search_fixtures
from tests.search.conftest import place_store

built_stores = search_fixtures.built_stores

VICTIM, ATTACKER = "acme", "globex"
ACME_TRACE_ID = "acce55ed" * 4  # on a slow request of acme's in the ledger
SHARED_SUB = "alice-sub-7f3e"  # alice's sub at acme's provider; globex's provider issues it too
PAGE = {"url": "https://moon.test/", "title": "Moon", "text": "The Moon is 384,400 km away."}


class IssuerThread:
    """A LocalIssuer whose JWKS is served from an event loop in a thread of its own."""

    def __init__(self, kid: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.issuer = LocalIssuer([rsa_key(kid)])

    def __enter__(self) -> LocalIssuer:
        self.thread.start()
        future: Future[LocalIssuer] = asyncio.run_coroutine_threadsafe(
            self.issuer.start(), self.loop
        )
        return future.result(30)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.issuer.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Hostile:
    """The running server, every credential by name, and the victim's objects."""

    server: ServerThread
    root: Path
    credentials: dict[str, str]  # caller name -> bearer credential (API key or access token)
    issuer_a: LocalIssuer  # acme's identity provider
    issuer_b: LocalIssuer  # globex's identity provider
    ids: dict[str, Any] = field(default_factory=dict)  # the victim's object ids and names

    def call(
        self, method: str, path: str, caller: str | None = None, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": f"Bearer {self.credentials[caller]}"} if caller else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.server.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method: str, path: str, caller: str | None = None, body: Any = None) -> Any:
        status, _, raw = self.call(method, path, caller, body)
        assert 200 <= status < 300, (method, path, caller, status, raw[:300])
        return json.loads(raw) if raw else None


def hostile_settings(home: Path, root: Path, a: LocalIssuer, b: LocalIssuer) -> Settings:
    def issuer(local: LocalIssuer, tenant: str) -> dict[str, Any]:
        return {
            "issuer": local.issuer,
            "jwks_url": local.jwks_url,
            "audience": "flightdeck",
            "tenants": [tenant],
        }

    return load_settings(
        None,
        {},
        defaults={
            "home": str(home),
            "server": {"port": 0},
            "auth": {
                "key_cache_seconds": 0,
                "oauth": {"issuers": [issuer(a, VICTIM), issuer(b, ATTACKER)]},
            },
            "models": [{"name": "local/extractive", "provider": "local-extractive"}],
            "assistant": {"embeddings": False},
            "search": {"roots": [str(root)], "manifest_check_seconds": 0},
            "ledger": {"flush_interval_seconds": 0.05},
        },
    )


async def seed(settings: Settings, issuer_a: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Tenants, keys, a service account, alice, limits: written before the server starts."""
    store = Store(settings.store_url)
    keys: dict[str, str] = {}
    ids: dict[str, Any] = {}
    try:
        await store.migrate()
        for tenant in (VICTIM, ATTACKER):
            await TenantStore(store).create(tenant, f"{tenant} display name")
            for role in Role:
                record, keys[f"{tenant}_{role.value}"] = await KeyStore(store).create(
                    f"{tenant}-{role.value}-key", role=role, tenant=tenant
                )
                ids[f"{tenant}_{role.value}_key"] = record.id
        accounts = AccountStore(store)
        robot = await accounts.create(VICTIM, "acme-robot", kind=AccountKind.SERVICE)
        record, keys["acme_robot"] = await KeyStore(store).create(
            "acme-robot-key", tenant=VICTIM, account_id=robot.id
        )
        ids |= {"robot": robot.id, "robot_key": record.id}
        alice = await accounts.create(
            VICTIM,
            "alice-acme",
            kind=AccountKind.USER,
            role=Role.ADMIN,
            subject=SHARED_SUB,
            issuer=issuer_a,
        )
        ids["alice"] = alice.id
        writer = LedgerWriter(store.engine, Spool(settings.home / "seed-spool"))
        await writer.start()
        writer.record(  # a slow request of acme's: the console lists it with its trace id
            UsageRecord(
                tenant=VICTIM,
                model_group="local/extractive",
                status=200,
                deployment="d",
                latency_ms=99_000.0,
                trace_id=ACME_TRACE_ID,
            )
        )
        await writer.close()
        policies = PolicyStore(store, settings.limits)
        await policies.set(VICTIM, LimitRule(tokens_per_minute=777_001), level=Level.CEILING)
        await policies.set(VICTIM, LimitRule(tokens_per_minute=555_001), level=Level.TENANT)
    finally:
        await store.close()
    return keys, ids


def tokens(a: LocalIssuer, b: LocalIssuer) -> dict[str, str]:
    """Access tokens: alice's (acme's provider), and the attacker's from globex's provider;
    valid for an hour, longer than the suite runs."""
    exp = int(time.time()) + 3600
    return {
        "alice": a.token(sub=SHARED_SUB, tid=VICTIM, roles=["member"], exp=exp),
        # globex's own admin, signed by globex's provider, with alice's sub
        "globex_oauth": b.token(sub=SHARED_SUB, tid=ATTACKER, roles=["admin"], exp=exp),
        # globex's provider speaking for acme, and for the platform tenant
        "forged_tenant": b.token(sub=SHARED_SUB, tid=VICTIM, roles=["admin"], exp=exp),
        "forged_platform": b.token(sub="root", tid="default", roles=["admin"], exp=exp),
    }


def populate(world: Hostile) -> None:
    """The objects made over HTTP: collections, a share, conversations, a thumbnail id."""
    made = world.json(
        "POST",
        "/admin/collections",
        "acme_admin",
        {"name": "acme-photos", "uri": "photos", "description": "acme-private-description"},
    )
    assert made["uri"] == "photos"
    world.json("POST", "/admin/collections", "globex_admin", {"name": "secrets", "uri": "secrets"})
    world.json(
        "POST",
        "/admin/store-shares",
        "platform",
        {"tenant": VICTIM, "uri": str(world.root / "library" / "photos"), "name": "library"},
    )
    world.json(
        "POST",
        "/admin/collections",
        "acme_admin",
        {"name": "acme-library", "uri": "shared:library"},
    )
    found = world.json(
        "POST", "/v1/search", "acme_member", {"collection": "acme-photos", "query": "a red car"}
    )
    world.ids["doc"] = found["data"][0]["doc_id"]
    stored = {"model": "local/extractive", "input": "acme-stored-input", "store": True}
    world.ids["response"] = world.json("POST", "/v1/responses", "acme_member", stored)["id"]
    experiment = {
        "key": "acme-exp",
        "description": "acme-experiment-secret",
        "target": {"kind": "parameters", "name": "local/extractive"},
        "variants": [{"name": "a", "value": {}}, {"name": "b", "value": {"temperature": 0}}],
    }
    world.ids["experiment"] = world.json("POST", "/admin/experiments", "acme_admin", experiment)[
        "key"
    ]
    for owner, question in (("acme_member", "acme-secret-question"), ("alice", "alice-question")):
        body = {"model": "local/extractive", "question": question, "pages": [PAGE], "stream": False}
        world.ids[f"{owner}_conversation"] = world.json("POST", "/v1/assistant/chat", owner, body)[
            "conversation_id"
        ]


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory, built_stores: Path) -> Iterator[Hostile]:
    base = tmp_path_factory.mktemp("hostile")
    root = base / "media"
    place_store(root, built_stores, "photos", VICTIM)
    place_store(root, built_stores, "secrets", ATTACKER)
    (root / "library").mkdir()
    shutil.copytree(built_stores / "photos", root / "library" / "photos")
    with IssuerThread("acme-idp") as issuer_a, IssuerThread("globex-idp") as issuer_b:
        settings = hostile_settings(base / "home", root, issuer_a, issuer_b)
        keys, ids = asyncio.run(seed(settings, issuer_a.issuer))
        with ServerThread(settings) as server:
            credentials = {**keys, **tokens(issuer_a, issuer_b), "platform": server.api_key}
            world = Hostile(server, root, credentials, issuer_a, issuer_b, ids)
            populate(world)
            yield world
