"""The admin API over real HTTP: every route checks the caller's tenant and role."""

from __future__ import annotations

from typing import Any

import pytest
from tests.server.conftest import Admin

USAGE = "/usage?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"

# (caller, method, path, body, expected status): one row per route and way of crossing a line.
ACCESS_CASES = [
    (None, "GET", "/keys", None, 401),
    (None, "GET", "/tenants", None, 401),
    (None, "GET", USAGE, None, 401),
    ("acme_admin", "POST", "/tenants", {"name": "initech"}, 403),
    ("platform", "POST", "/tenants", {"name": "initech"}, 201),
    ("platform", "POST", "/tenants", {"name": "acme"}, 409),
    ("platform", "POST", "/tenants", {"name": "Bad Name!"}, 400),
    ("platform", "POST", "/tenants", {"name": "default"}, 409),  # the platform tenant
    ("platform", "POST", "/tenants", {"name": "Default"}, 409),
    ("platform", "POST", "/tenants", {"name": "admin"}, 400),
    ("platform", "POST", "/tenants", {"name": "SYSTEM"}, 400),
    (
        "platform",
        "POST",
        "/tenants",
        {"name": "\uff50\uff4c\uff41\uff54\uff46\uff4f\uff52\uff4d"},
        400,
    ),
    ("platform", "POST", "/tenants", {"name": "ACME"}, 400),
    ("acme_admin", "GET", "/keys?tenant=globex", None, 403),
    ("acme_viewer", "GET", "/keys", None, 200),
    ("acme_admin", "POST", "/keys", {"name": "x", "tenant": "globex"}, 403),
    ("acme_member", "POST", "/keys", {"name": "x"}, 403),
    ("acme_viewer", "POST", "/keys", {"name": "x"}, 403),
    ("acme_admin", "POST", "/keys", {"name": "x", "role": "viewer"}, 201),
    ("acme_admin", "POST", "/keys", {"name": "x", "role": "owner"}, 400),
    ("platform", "POST", "/keys", {"name": "x", "tenant": "nope"}, 404),
    ("platform", "POST", "/keys", {"name": "x", "tenant": "globex"}, 201),
    ("acme_admin", "GET", "/budgets?tenant=globex", None, 403),
    ("acme_viewer", "GET", "/budgets", None, 200),
    ("acme_admin", "PUT", "/budgets", {"tenant": "globex", "monthly_budget": 1}, 403),
    ("acme_member", "PUT", "/budgets", {"monthly_budget": 1}, 403),
    ("acme_admin", "PUT", "/budgets", {"monthly_budget": 100, "tokens_per_minute": 5000}, 200),
    ("acme_admin", "PUT", "/budgets", {"monthly_budget": -1}, 400),
    ("acme_admin", "PUT", "/budgets", {"level": "ceiling", "monthly_budget": 1}, 403),
    ("platform", "PUT", "/budgets", {"tenant": "globex", "requests_per_minute": 10}, 200),
    ("acme_viewer", "GET", USAGE + "&tenant=globex", None, 403),
    ("acme_viewer", "GET", USAGE, None, 200),
    ("acme_viewer", "GET", USAGE + "&group_by=week", None, 400),
    ("acme_viewer", "GET", "/usage?from=2026-11-05T00:00:00Z&to=2026-11-01T00:00:00Z", None, 400),
    ("platform", "GET", USAGE + "&tenant=globex", None, 200),
]


@pytest.mark.parametrize(("caller", "method", "path", "body", "status"), ACCESS_CASES)
async def test_route_access(
    admin: Admin, caller: str | None, method: str, path: str, body: Any, status: int
) -> None:
    got, data = await admin.call(method, path, caller, body)
    assert got == status, data
    if status >= 400:
        assert set(data["error"]) == {"message", "type", "param", "code"}


async def test_keys_of_other_tenants_are_invisible_and_untouchable(admin: Admin) -> None:
    status, keys = await admin.call("GET", "/keys", "acme_admin")
    assert status == 200 and {k["tenant"] for k in keys} == {"acme"}
    globex_key = admin.key_ids["globex_admin"]
    assert (await admin.call("DELETE", f"/keys/{globex_key}", "acme_admin"))[0] == 404
    assert (await admin.call("DELETE", "/keys/999999", "acme_admin"))[0] == 404
    body = {"key_id": globex_key, "monthly_budget": 1}
    assert (await admin.call("PUT", "/budgets", "acme_admin", body))[0] == 404
    assert (await admin.call("GET", "/keys", "globex_admin"))[0] == 200  # still works


async def test_an_admin_revokes_own_tenants_key(admin: Admin) -> None:
    member = admin.key_ids["acme_member"]
    assert (await admin.call("DELETE", f"/keys/{member}", "acme_member"))[0] == 403
    assert (await admin.call("DELETE", f"/keys/{member}", "acme_admin"))[0] == 204
    assert (await admin.call("GET", "/keys", "acme_member"))[0] == 401


async def test_created_key_is_shown_once_and_works(admin: Admin) -> None:
    status, created = await admin.call(
        "POST", "/keys", "acme_admin", {"name": "ci", "role": "viewer"}
    )
    assert status == 201 and created["key"].startswith("fd-") and created["tenant"] == "acme"
    admin.keys["new"] = created["key"]
    status, keys = await admin.call("GET", "/keys", "new")
    assert status == 200 and all("key" not in k for k in keys)


async def test_tenants_list_shows_only_your_tenant(admin: Admin) -> None:
    assert [t["name"] for t in (await admin.call("GET", "/tenants", "acme_viewer"))[1]] == ["acme"]
    names = [t["name"] for t in (await admin.call("GET", "/tenants", "platform"))[1]]
    assert names == ["acme", "globex"]


async def test_usage_reports_only_the_callers_tenant(admin: Admin) -> None:
    status, usage = await admin.call("GET", USAGE + "&group_by=day", "acme_viewer")
    assert status == 200 and usage["tenant"] == "acme"
    assert [(d["group"], d["requests"], d["cost"]) for d in usage["data"]] == [
        ("2026-11-10", 1, 1.5),
        ("2026-11-11", 1, 1.5),
        ("2026-11-12", 1, 1.5),
    ]
    status, usage = await admin.call("GET", USAGE + "&group_by=key", "acme_admin")
    assert [d["group"] for d in usage["data"]] == [str(admin.key_ids["acme_member"])]


async def test_budgets_set_then_listed(admin: Admin) -> None:
    key = admin.key_ids["acme_member"]
    body = {"key_id": key, "requests_per_minute": 60, "monthly_budget": 25.5}
    assert (await admin.call("PUT", "/budgets", "acme_admin", body))[0] == 200
    status, budgets = await admin.call("GET", "/budgets", "acme_viewer")
    assert status == 200
    assert [(b["key_id"], b["requests_per_minute"], b["monthly_budget"]) for b in budgets] == [
        (key, 60, 25.5)
    ]


async def test_oauth_access_token_acts_within_its_tenant_and_role(admin: Admin) -> None:
    token = admin.issuer.token(tid="acme", roles=["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    status, keys = await admin.call("GET", "/keys", headers=headers)
    assert status == 200 and {k["tenant"] for k in keys} == {"acme"}
    assert (await admin.call("GET", "/keys?tenant=globex", headers=headers))[0] == 403
    viewer = {"Authorization": f"Bearer {admin.issuer.token(tid='acme', roles='viewer')}"}
    assert (await admin.call("POST", "/keys", body={"name": "x"}, headers=viewer))[0] == 403


async def test_credentials_in_the_query_string_are_refused(admin: Admin) -> None:
    token = admin.issuer.token(tid="acme", roles=["admin"])
    status, data = await admin.call("GET", f"/keys?access_token={token}")
    assert status == 401 and data["error"]["code"] == "credentials_in_query"
    status, _ = await admin.call("GET", f"/keys?api_key={admin.keys['acme_admin']}")
    assert status == 401


async def test_bad_tokens_get_the_same_401_body(admin: Admin) -> None:
    expired = admin.issuer.token(exp=1, iat=0)
    wrong_aud = admin.issuer.token(aud="other")
    bodies = []
    for token in (expired, wrong_aud):
        status, data = await admin.call(
            "GET", "/keys", headers={"Authorization": f"Bearer {token}"}
        )
        assert status == 401
        bodies.append(data)
    assert bodies[0] == bodies[1]


async def test_openapi_documents_every_admin_route(admin: Admin) -> None:
    status, spec = await admin.call("GET", "/openapi.json", "platform")
    assert status == 200
    assert set(spec["paths"]) == {
        "/tenants",
        "/keys",
        "/keys/{key_id}",
        "/budgets",
        "/usage",
        "/users",
        "/users/{user_id}",
        "/service-accounts",
        "/service-accounts/{account_id}",
        "/collections",
        "/collections/{name}",
        "/store-shares",
        "/store-shares/{name}",
        "/experiments",
        "/experiments/{ref}",
        "/experiments/{ref}/start",
        "/experiments/{ref}/stop",
        "/experiments/{ref}/results",
        "/console/traffic",
        "/console/usage",
        "/console/slow",
        "/console/live",
        "/console/experiments",
        "/console/experiments/{ref}",
        "/cache",
    }


async def test_reserved_tenant_names_say_why(admin: Admin) -> None:
    status, answer = await admin.call("POST", "/tenants", "platform", {"name": "Admin"})
    assert status == 400 and answer["error"]["code"] == "tenant_name_reserved"
    status, answer = await admin.call("POST", "/tenants", "platform", {"name": "ACME"})
    assert status == 400 and "did you mean 'acme'" in answer["error"]["message"]


async def test_a_tenant_admin_cannot_lift_a_ceiling_set_by_a_platform_admin(admin: Admin) -> None:
    ceiling = {"tenant": "acme", "tokens_per_minute": 1000, "monthly_budget": 50}
    status, made = await admin.call("PUT", "/budgets", "platform", ceiling)
    assert status == 200 and made["level"] == "ceiling"
    for lifted in ({"tokens_per_minute": 5000}, {"monthly_budget": 80, "tokens_per_minute": 10}):
        status, answer = await admin.call("PUT", "/budgets", "acme_admin", lifted)
        assert status == 403 and answer["error"]["code"] == "limit_above_ceiling", answer
        assert "exceeds the ceiling" in answer["error"]["message"]
    status, made = await admin.call("PUT", "/budgets", "acme_admin", {"tokens_per_minute": 500})
    assert status == 200 and made["level"] == "tenant"
    _, budgets = await admin.call("GET", "/budgets", "acme_viewer")
    assert [(b["level"], b["tokens_per_minute"], b["monthly_budget"]) for b in budgets] == [
        ("ceiling", 1000, 50.0),
        ("tenant", 500, None),
    ]
