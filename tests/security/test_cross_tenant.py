"""Every route, attacked by the other tenant: generated from the route table, so a new route
without a case here fails ``test_every_route_has_a_cross_tenant_case``.

For each route the attacker (globex: its admin, member and viewer keys, its OAuth admin whose
``sub`` equals a victim user's, and globex's identity provider forging tokens for acme and for
the platform tenant) sends requests aimed at the victim's (acme's) objects. The attack must not
read (no response, error or not, carries anything of acme's) and must not write (acme's state,
read back as a platform admin and as acme's own callers, is unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.routing import Route

from tests.search.conftest import PHOTOS
from tests.security.conftest import ACME_TRACE_ID, PAGE, VICTIM, Hostile

ATTACKERS = [
    "globex_admin",
    "globex_member",
    "globex_viewer",
    "globex_oauth",
    "forged_tenant",
    "forged_platform",
]
FORGED = {"forged_tenant", "forged_platform"}  # must never get past authentication


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    body: Any = None
    may_succeed: bool = False  # a 2xx is fine: the attacker's own view, shown without acme's data


def chat(**more: Any) -> dict[str, Any]:
    return {"model": "local/extractive", "messages": [{"role": "user", "content": "hi"}]} | more


def message(**more: Any) -> dict[str, Any]:
    """An Anthropic Messages API body."""
    body = {"model": "local/extractive", "max_tokens": 50}
    return body | {"messages": [{"role": "user", "content": "hi"}]} | more


def respond(**more: Any) -> dict[str, Any]:
    """An OpenAI Responses API body."""
    return {"model": "local/extractive", "input": "hi", "store": False} | more


def ask(**more: Any) -> dict[str, Any]:
    body = {"model": "local/extractive", "question": "How far?", "pages": [PAGE], "stream": False}
    return body | more


Builder = Callable[[Hostile], list[Attempt]]
A = Attempt
# (method, path as the route table names it) -> the attempts against acme's objects
CASES: dict[tuple[str, str], Builder] = {
    ("GET", "/metrics"): lambda w: [A("GET", "/metrics")],  # platform admins only
    ("GET", "/admin/tenants"): lambda w: [A("GET", "/admin/tenants", may_succeed=True)],
    ("POST", "/admin/tenants"): lambda w: [
        A("POST", "/admin/tenants", {"name": VICTIM}),
        A("POST", "/admin/tenants", {"name": "globex-annex"}),
    ],
    ("GET", "/admin/keys"): lambda w: [
        A("GET", "/admin/keys?tenant=acme"),
        A("GET", "/admin/keys", may_succeed=True),
    ],
    ("POST", "/admin/keys"): lambda w: [
        A("POST", "/admin/keys", {"name": "x", "tenant": VICTIM}),
        A("POST", "/admin/keys", {"name": "x", "service_account": "acme-robot"}),
    ],
    ("DELETE", "/admin/keys/{key_id}"): lambda w: [
        A("DELETE", f"/admin/keys/{w.ids['acme_admin_key']}"),
        A("DELETE", f"/admin/keys/{w.ids['robot_key']}"),
    ],
    ("GET", "/admin/budgets"): lambda w: [
        A("GET", "/admin/budgets?tenant=acme"),
        A("GET", "/admin/budgets", may_succeed=True),
    ],
    ("PUT", "/admin/budgets"): lambda w: [
        A("PUT", "/admin/budgets", {"tenant": VICTIM, "tokens_per_minute": 10**9}),
        A("PUT", "/admin/budgets", {"key_id": w.ids["acme_member_key"], "tokens_per_minute": 1}),
        A("PUT", "/admin/budgets", {"tenant": VICTIM, "level": "ceiling"}),
    ],
    ("GET", "/admin/usage"): lambda w: [
        A("GET", "/admin/usage?tenant=acme"),
        A("GET", "/admin/usage", may_succeed=True),
    ],
    ("GET", "/admin/users"): lambda w: [
        A("GET", "/admin/users?tenant=acme"),
        A("GET", "/admin/users", may_succeed=True),
    ],
    ("POST", "/admin/users"): lambda w: [
        A("POST", "/admin/users", {"name": "x", "subject": "s", "tenant": VICTIM}),
        A("POST", "/admin/users", {"name": "x", "subject": "s", "issuer": w.issuer_a.issuer}),
    ],
    ("PATCH", "/admin/users/{user_id}"): lambda w: [
        A("PATCH", f"/admin/users/{w.ids['alice']}", {"role": "viewer"}),
    ],
    ("DELETE", "/admin/users/{user_id}"): lambda w: [
        A("DELETE", f"/admin/users/{w.ids['alice']}"),
    ],
    ("GET", "/admin/service-accounts"): lambda w: [
        A("GET", "/admin/service-accounts?tenant=acme"),
        A("GET", "/admin/service-accounts", may_succeed=True),
    ],
    ("POST", "/admin/service-accounts"): lambda w: [
        A("POST", "/admin/service-accounts", {"name": "x", "tenant": VICTIM}),
    ],
    ("PATCH", "/admin/service-accounts/{account_id}"): lambda w: [
        A("PATCH", f"/admin/service-accounts/{w.ids['robot']}", {"role": "admin"}),
    ],
    ("DELETE", "/admin/service-accounts/{account_id}"): lambda w: [
        A("DELETE", f"/admin/service-accounts/{w.ids['robot']}"),
    ],
    ("GET", "/admin/collections"): lambda w: [
        A("GET", "/admin/collections?tenant=acme"),
        A("GET", "/admin/collections", may_succeed=True),
    ],
    ("POST", "/admin/collections"): lambda w: [
        A("POST", "/admin/collections", {"name": "x", "uri": "photos", "tenant": VICTIM}),
        A("POST", "/admin/collections", {"name": "x", "uri": str(w.root / "tenants/acme/photos")}),
        A("POST", "/admin/collections", {"name": "x", "uri": "../acme/photos"}),
        A("POST", "/admin/collections", {"name": "x", "uri": str(w.root / "library/photos")}),
        A("POST", "/admin/collections", {"name": "x", "uri": "shared:library"}),
        A("POST", "/admin/collections", {"name": "x", "uri": str(w.root)}),
    ],
    ("GET", "/admin/collections/{name}"): lambda w: [
        A("GET", "/admin/collections/acme-photos?tenant=acme"),
        A("GET", "/admin/collections/acme-photos"),
        A("GET", "/admin/collections/acme-library"),
    ],
    ("DELETE", "/admin/collections/{name}"): lambda w: [
        A("DELETE", "/admin/collections/acme-photos?tenant=acme"),
        A("DELETE", "/admin/collections/acme-photos"),
    ],
    ("GET", "/admin/store-shares"): lambda w: [
        A("GET", "/admin/store-shares?tenant=acme"),
        A("GET", "/admin/store-shares", may_succeed=True),
    ],
    ("POST", "/admin/store-shares"): lambda w: [
        A("POST", "/admin/store-shares", {"tenant": "globex", "uri": "photos"}),
        A(
            "POST",
            "/admin/store-shares",
            {"tenant": "globex", "uri": str(w.root / "tenants/acme/photos")},
        ),
    ],
    ("DELETE", "/admin/store-shares/{name}"): lambda w: [
        A("DELETE", "/admin/store-shares/library?tenant=acme"),
        A("DELETE", "/admin/store-shares/library"),
    ],
    ("GET", "/admin/experiments"): lambda w: [
        A("GET", "/admin/experiments?tenant=acme"),
        A("GET", "/admin/experiments", may_succeed=True),
    ],
    ("POST", "/admin/experiments"): lambda w: [
        A(
            "POST",
            "/admin/experiments",
            {
                "key": "x",
                "tenant": VICTIM,
                "target": {"kind": "parameters", "name": "local/extractive"},
                "variants": [{"name": "a", "value": {}}, {"name": "b", "value": {}}],
            },
        ),
    ],
    ("GET", "/admin/experiments/{ref}"): lambda w: [
        A("GET", f"/admin/experiments/{w.ids['experiment']}?tenant=acme"),
        A("GET", f"/admin/experiments/{w.ids['experiment']}"),
    ],
    ("GET", "/admin/experiments/{ref}/results"): lambda w: [
        A("GET", f"/admin/experiments/{w.ids['experiment']}/results?tenant=acme"),
        A("GET", f"/admin/experiments/{w.ids['experiment']}/results"),
    ],
    ("POST", "/admin/experiments/{ref}/start"): lambda w: [
        A("POST", f"/admin/experiments/{w.ids['experiment']}/start?tenant=acme"),
        A("POST", f"/admin/experiments/{w.ids['experiment']}/start"),
    ],
    ("POST", "/admin/experiments/{ref}/stop"): lambda w: [
        A("POST", f"/admin/experiments/{w.ids['experiment']}/stop?tenant=acme"),
        A("POST", f"/admin/experiments/{w.ids['experiment']}/stop"),
    ],
    ("GET", "/admin/console/traffic"): lambda w: [
        A("GET", "/admin/console/traffic?tenant=acme&range=30d"),
        A("GET", "/admin/console/traffic?range=30d", may_succeed=True),
    ],
    ("GET", "/admin/console/usage"): lambda w: [
        A("GET", "/admin/console/usage?tenant=acme&range=30d"),
        A("GET", "/admin/console/usage?range=30d", may_succeed=True),
    ],
    ("GET", "/admin/console/slow"): lambda w: [
        A("GET", "/admin/console/slow?tenant=acme&range=30d"),
        A("GET", "/admin/console/slow?range=30d", may_succeed=True),
    ],
    ("GET", "/admin/console/experiments"): lambda w: [
        A("GET", "/admin/console/experiments?tenant=acme"),
        A("GET", "/admin/console/experiments", may_succeed=True),
    ],
    ("GET", "/admin/console/experiments/{ref}"): lambda w: [
        A("GET", f"/admin/console/experiments/{w.ids['experiment']}?tenant=acme"),
        A("GET", f"/admin/console/experiments/{w.ids['experiment']}"),
        A("GET", "/admin/console/experiments/1?tenant=acme"),
    ],
    ("GET", "/admin/console/live"): lambda w: [
        A("GET", "/admin/console/live?tenant=acme&range=30d"),
        A("GET", "/admin/console/live?range=30d", may_succeed=True),
    ],
    ("DELETE", "/admin/cache"): lambda w: [
        A("DELETE", "/admin/cache?tenant=acme"),
        A("DELETE", "/admin/cache?tenant=acme&model=local/extractive"),
        A("DELETE", "/admin/cache", may_succeed=True),  # its own tenant's entries
    ],
    ("POST", "/v1/feedback"): lambda w: [
        # accepted as the attacker's own feedback: results join feedback within a tenant
        A("POST", "/v1/feedback?tenant=acme", {"response_id": "x", "rating": 1}, may_succeed=True),
    ],
    ("POST", "/v1/chat/completions"): lambda w: [
        A("POST", "/v1/chat/completions?tenant=acme", chat(), may_succeed=True),
        A("POST", "/v1/chat/completions", chat(user=VICTIM), may_succeed=True),
    ],
    ("POST", "/v1/messages"): lambda w: [
        A("POST", "/v1/messages", message(metadata={"user_id": VICTIM}), may_succeed=True),
    ],
    ("POST", "/v1/messages/count_tokens"): lambda w: [
        A("POST", "/v1/messages/count_tokens", message(), may_succeed=True),
    ],
    ("POST", "/v1/responses"): lambda w: [
        A("POST", "/v1/responses", respond(previous_response_id=w.ids["response"])),
        A("POST", "/v1/responses", respond(), may_succeed=True),
    ],
    ("GET", "/v1/responses/{response_id}"): lambda w: [
        A("GET", f"/v1/responses/{w.ids['response']}"),
    ],
    ("DELETE", "/v1/responses/{response_id}"): lambda w: [
        A("DELETE", f"/v1/responses/{w.ids['response']}"),
    ],
    ("POST", "/v1/embeddings"): lambda w: [
        A("POST", "/v1/embeddings", {"model": "local/extractive", "input": "x"}),
    ],
    ("GET", "/v1/models"): lambda w: [A("GET", "/v1/models", may_succeed=True)],
    ("GET", "/v1/models/{model:path}"): lambda w: [
        A("GET", "/v1/models/local/extractive", may_succeed=True)
    ],
    ("POST", "/v1/assistant/chat"): lambda w: [
        A("POST", "/v1/assistant/chat", ask(conversation_id=w.ids["acme_member_conversation"])),
        A("POST", "/v1/assistant/chat", ask(conversation_id=w.ids["alice_conversation"])),
    ],
    ("POST", "/v1/assistant/extract"): lambda w: [
        A("POST", "/v1/assistant/extract", {"pages": [PAGE]}, may_succeed=True),
    ],
    ("GET", "/v1/assistant/conversations"): lambda w: [
        A("GET", "/v1/assistant/conversations", may_succeed=True),
    ],
    ("GET", "/v1/assistant/conversations/{id}"): lambda w: [
        A("GET", f"/v1/assistant/conversations/{w.ids['acme_member_conversation']}"),
        A("GET", f"/v1/assistant/conversations/{w.ids['alice_conversation']}"),
    ],
    ("DELETE", "/v1/assistant/conversations/{id}"): lambda w: [
        A("DELETE", f"/v1/assistant/conversations/{w.ids['acme_member_conversation']}"),
        A("DELETE", f"/v1/assistant/conversations/{w.ids['alice_conversation']}"),
    ],
    ("POST", "/v1/search"): lambda w: [
        A("POST", "/v1/search", {"collection": "acme-photos", "query": "a red car"}),
        A("POST", "/v1/search", {"collection": "acme-library", "query": "a red car"}),
    ],
    ("GET", "/v1/collections"): lambda w: [A("GET", "/v1/collections", may_succeed=True)],
    ("GET", "/v1/collections/{name}/documents/{doc_id}/thumbnail"): lambda w: [
        A("GET", f"/v1/collections/acme-photos/documents/{w.ids['doc']}/thumbnail"),
        A("GET", f"/v1/collections/secrets/documents/{w.ids['doc']}/thumbnail"),
    ],
}


def route_table(world: Hostile) -> set[tuple[str, str]]:
    """Every (method, path) of ``/admin/openapi.json``, every ``/v1`` route of the app, and
    ``/metrics`` (authenticated though outside ``/v1``)."""
    spec = world.json("GET", "/admin/openapi.json", "platform")
    routes = {(m.upper(), "/admin" + path) for path, ops in spec["paths"].items() for m in ops}
    for route in world.server.app.routes:
        if isinstance(route, Route) and (route.path.startswith("/v1/") or route.path == "/metrics"):
            routes |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return routes


def victim_state(world: Hostile) -> dict[str, Any]:
    """acme as its platform admin and its own callers see it."""
    state: dict[str, Any] = {}
    for path in (
        "/admin/tenants",
        "/admin/keys?tenant=acme",
        "/admin/users?tenant=acme",
        "/admin/service-accounts?tenant=acme",
        "/admin/budgets?tenant=acme",
        "/admin/collections?tenant=acme",
        "/admin/store-shares?tenant=acme",
        "/admin/collections?tenant=globex",
        "/admin/store-shares?tenant=globex",
        "/admin/experiments?tenant=acme",
        f"/admin/experiments/{world.ids['experiment']}/results?tenant=acme",
    ):
        state[path] = world.json("GET", path, "platform")
    for owner in ("acme_member", "alice"):
        conversation = world.ids[f"{owner}_conversation"]
        state[owner] = world.json("GET", f"/v1/assistant/conversations/{conversation}", owner)
    state["response"] = world.json("GET", f"/v1/responses/{world.ids['response']}", "acme_member")
    state["robot"] = world.call("GET", "/admin/keys", "acme_robot")[0]
    return state


def victim_markers(world: Hostile) -> list[bytes]:
    """What no answer to the attacker may contain: acme's secrets, names and documents."""
    prefixes = [world.credentials[f"acme_{r}"][:10] for r in ("admin", "member", "viewer")]
    text = [
        *prefixes,
        world.credentials["acme_robot"][:10],
        "acme-admin-key",
        "acme-robot-key",
        "alice-acme",
        "acme display name",
        "acme-private-description",
        "acme-secret-question",
        "alice-question",
        "acme-stored-input",
        "acme-experiment-secret",
        ACME_TRACE_ID,
        "777001",
        "555001",
        str(world.root / "library"),
        *(caption for caption, _ in PHOTOS.values()),
    ]
    status, _, thumbnail = world.call(
        "GET", f"/v1/collections/acme-photos/documents/{world.ids['doc']}/thumbnail", "acme_member"
    )
    assert status == 200
    return [t.encode() for t in text] + [thumbnail]


def test_every_route_has_a_cross_tenant_case(hostile: Hostile) -> None:
    routes = route_table(hostile)
    assert routes - set(CASES) == set(), "routes without a cross-tenant case (add one to CASES)"
    assert set(CASES) - routes == set(), "cases of routes that no longer exist"


@pytest.mark.parametrize("route", sorted(CASES), ids=[f"{m} {p}" for m, p in sorted(CASES)])
def test_the_other_tenant_cannot_read_or_write(hostile: Hostile, route: tuple[str, str]) -> None:
    markers = victim_markers(hostile)
    before = victim_state(hostile)
    for attempt in CASES[route](hostile):
        for attacker in ATTACKERS:
            status, _, body = hostile.call(attempt.method, attempt.path, attacker, attempt.body)
            what = f"{attacker}: {attempt.method} {attempt.path} -> {status} {body[:200]!r}"
            assert status < 500, what
            if attacker in FORGED:
                assert status in (401, 403), what
            elif not attempt.may_succeed:
                assert 400 <= status < 500, what
            leaked = [m[:40] for m in markers if m in body]
            assert not leaked, f"{what} leaks {leaked}"
    assert victim_state(hostile) == before
