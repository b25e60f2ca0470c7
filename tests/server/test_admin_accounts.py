"""/admin/users, /admin/service-accounts and service-account keys over real HTTP.

Every route is crossed every way: another tenant's account answers 404, naming another tenant
403, a member or viewer writing 403. The lifecycles run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.server.conftest import Admin, admin_server
from tests.tenancy_support.services import fresh_pg_url  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_admin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Admin]:
    url = None if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    async with admin_server(tmp_path, url) as served:
        yield served


@pytest.fixture
async def seeded(admin: Admin) -> dict[str, int]:
    """One user and one service account in each tenant; their ids by name."""
    ids = {}
    for path, body in [
        ("/users", {"name": "alice", "subject": "alice-sub", "tenant": "acme"}),
        ("/users", {"name": "gina", "subject": "gina-sub", "tenant": "globex"}),
        ("/service-accounts", {"name": "ci", "tenant": "acme"}),
        ("/service-accounts", {"name": "globex-bot", "tenant": "globex"}),
    ]:
        status, created = await admin.call("POST", path, "platform", body)
        assert status == 201, created
        ids[body["name"]] = created["id"]
    return ids


ALICE = {"name": "al", "subject": "al-sub"}
# (caller, method, path, body, status); {name} in a path is that seeded account's id.
ACCESS_CASES = [
    (None, "GET", "/users", None, 401),
    (None, "GET", "/service-accounts", None, 401),
    ("acme_viewer", "GET", "/users", None, 200),
    ("acme_admin", "GET", "/users?tenant=globex", None, 403),
    ("platform", "GET", "/users?tenant=globex", None, 200),
    ("acme_admin", "POST", "/users", ALICE, 201),
    ("acme_admin", "POST", "/users", {**ALICE, "role": "admin"}, 201),
    ("acme_member", "POST", "/users", ALICE, 403),
    ("acme_viewer", "POST", "/users", ALICE, 403),
    ("acme_admin", "POST", "/users", {**ALICE, "tenant": "globex"}, 403),
    ("platform", "POST", "/users", {**ALICE, "tenant": "globex"}, 201),
    ("platform", "POST", "/users", {**ALICE, "tenant": "nope"}, 404),
    ("acme_admin", "POST", "/users", {**ALICE, "name": "Al Bundy"}, 400),
    ("acme_admin", "POST", "/users", {**ALICE, "subject": ""}, 400),
    ("acme_admin", "POST", "/users", {**ALICE, "subject": " padded"}, 400),
    ("acme_admin", "POST", "/users", {"name": "al"}, 400),
    ("acme_admin", "POST", "/users", {**ALICE, "role": "owner"}, 400),
    ("acme_admin", "POST", "/users", {**ALICE, "name": "alice"}, 409),
    ("acme_admin", "POST", "/users", {**ALICE, "subject": "alice-sub"}, 409),
    ("acme_admin", "POST", "/users", {**ALICE, "name": "ci"}, 409),  # names span both kinds
    ("acme_admin", "PATCH", "/users/{alice}", {"role": "viewer"}, 200),
    ("acme_member", "PATCH", "/users/{alice}", {"role": "admin"}, 403),
    ("acme_viewer", "PATCH", "/users/{alice}", {"role": "admin"}, 403),
    ("acme_admin", "PATCH", "/users/{alice}", {"role": "root"}, 400),
    ("acme_admin", "PATCH", "/users/{gina}", {"role": "viewer"}, 404),
    ("globex_admin", "PATCH", "/users/{alice}", {"role": "viewer"}, 404),
    ("acme_admin", "PATCH", "/users/{ci}", {"role": "viewer"}, 404),  # not a user
    ("acme_admin", "PATCH", "/users/999999", {"role": "viewer"}, 404),
    ("platform", "PATCH", "/users/{gina}", {"role": "admin"}, 200),
    ("acme_member", "DELETE", "/users/{alice}", None, 403),
    ("globex_admin", "DELETE", "/users/{alice}", None, 404),
    ("acme_admin", "DELETE", "/users/{gina}", None, 404),
    ("acme_admin", "DELETE", "/users/{alice}", None, 204),
    ("acme_viewer", "GET", "/service-accounts", None, 200),
    ("acme_admin", "GET", "/service-accounts?tenant=globex", None, 403),
    ("platform", "GET", "/service-accounts?tenant=globex", None, 200),
    ("acme_admin", "POST", "/service-accounts", {"name": "deploy", "role": "viewer"}, 201),
    ("acme_member", "POST", "/service-accounts", {"name": "deploy"}, 403),
    ("acme_viewer", "POST", "/service-accounts", {"name": "deploy"}, 403),
    ("acme_admin", "POST", "/service-accounts", {"name": "deploy", "tenant": "globex"}, 403),
    ("platform", "POST", "/service-accounts", {"name": "deploy", "tenant": "globex"}, 201),
    ("acme_admin", "POST", "/service-accounts", {"name": "-deploy"}, 400),
    ("acme_admin", "POST", "/service-accounts", {"name": "ci"}, 409),
    ("acme_admin", "POST", "/service-accounts", {"name": "x", "subject": "s"}, 201),  # ignored
    ("acme_admin", "PATCH", "/service-accounts/{ci}", {"role": "viewer"}, 200),
    ("acme_member", "PATCH", "/service-accounts/{ci}", {"role": "admin"}, 403),
    ("acme_viewer", "PATCH", "/service-accounts/{ci}", {"role": "admin"}, 403),
    ("acme_admin", "PATCH", "/service-accounts/{ci}", {"role": "root"}, 400),
    ("globex_admin", "PATCH", "/service-accounts/{ci}", {"role": "viewer"}, 404),
    ("acme_admin", "PATCH", "/service-accounts/{globex-bot}", {"role": "viewer"}, 404),
    ("acme_admin", "PATCH", "/service-accounts/{alice}", {"role": "viewer"}, 404),  # a user
    ("platform", "PATCH", "/service-accounts/{globex-bot}", {"role": "admin"}, 200),
    ("acme_member", "DELETE", "/service-accounts/{ci}", None, 403),
    ("acme_viewer", "DELETE", "/service-accounts/{ci}", None, 403),
    ("globex_admin", "DELETE", "/service-accounts/{ci}", None, 404),
    ("acme_admin", "DELETE", "/service-accounts/{globex-bot}", None, 404),
    ("acme_admin", "DELETE", "/service-accounts/{alice}", None, 404),  # not a service account
    ("acme_admin", "DELETE", "/service-accounts/{ci}", None, 204),
    ("platform", "DELETE", "/service-accounts/{globex-bot}", None, 204),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "ci"}, 201),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "ci", "role": "viewer"}, 201),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "ci", "role": "admin"}, 400),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "globex-bot"}, 404),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "alice"}, 404),
    ("acme_admin", "POST", "/keys", {"name": "k", "service_account": "nobody"}, 404),
    ("acme_member", "POST", "/keys", {"name": "k", "service_account": "ci"}, 403),
    (
        "acme_admin",
        "POST",
        "/keys",
        {"name": "k", "service_account": "globex-bot", "tenant": "globex"},
        403,
    ),
    (
        "platform",
        "POST",
        "/keys",
        {"name": "k", "service_account": "globex-bot", "tenant": "globex"},
        201,
    ),
]


@pytest.mark.parametrize(("caller", "method", "path", "body", "status"), ACCESS_CASES)
async def test_account_route_access(
    admin: Admin,
    seeded: dict[str, int],
    caller: str | None,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    got, data = await admin.call(method, path.format(**seeded), caller, body)
    assert got == status, data
    if status >= 400:
        assert set(data["error"]) == {"message", "type", "param", "code"}


async def test_lists_show_only_the_callers_tenant(admin: Admin, seeded: dict[str, int]) -> None:
    status, users = await admin.call("GET", "/users", "acme_viewer")
    assert status == 200
    assert [(u["name"], u["subject"], u["tenant"], u["role"]) for u in users] == [
        ("alice", "alice-sub", "acme", "member")
    ]
    status, robots = await admin.call("GET", "/service-accounts", "globex_admin")
    assert status == 200 and [(r["name"], r["tenant"]) for r in robots] == [
        ("globex-bot", "globex")
    ]


async def test_service_account_key_lifecycle(any_admin: Admin) -> None:
    admin = any_admin
    status, robot = await admin.call(
        "POST", "/service-accounts", "acme_admin", {"name": "ci", "role": "member"}
    )
    assert status == 201 and robot["role"] == "member"
    status, key = await admin.call(
        "POST", "/keys", "acme_admin", {"name": "ci-1", "service_account": "ci"}
    )
    assert status == 201 and key["role"] == "member" and key["service_account"] == "ci"
    _, plain = await admin.call("POST", "/keys", "acme_admin", {"name": "plain"})
    assert plain["role"] == "member" and plain["service_account"] is None
    admin.keys["robot"] = key["key"]
    assert (await admin.call("GET", "/keys", "robot"))[0] == 200  # the key works
    _, listed = await admin.call("GET", "/keys", "acme_viewer")
    owners = {k["name"]: k["service_account"] for k in listed}
    assert owners["ci-1"] == "ci" and owners["plain"] is None

    # raising the account does not raise a key made as member (lowering caps: gateway tests)
    path = f"/service-accounts/{robot['id']}"
    assert (await admin.call("PATCH", path, "acme_admin", {"role": "admin"}))[1]["role"] == "admin"
    assert (await admin.call("POST", "/keys", "robot", {"name": "more"}))[0] == 403

    assert (await admin.call("DELETE", f"/service-accounts/{robot['id']}", "acme_admin"))[0] == 204
    assert (await admin.call("GET", "/keys", "robot"))[0] == 401  # deleting revoked its keys
    _, listed = await admin.call("GET", "/keys", "acme_viewer")
    revoked = {k["name"]: k["revoked_at"] is not None for k in listed}
    assert revoked["ci-1"] and not revoked["plain"]
    assert (await admin.call("GET", "/service-accounts", "acme_viewer"))[1] == []


async def test_registered_role_overrides_the_token_claim(any_admin: Admin) -> None:
    admin = any_admin
    new_key = {"name": "x"}

    def as_user(roles: Any, tenant: str = "acme") -> dict[str, str]:
        token = admin.issuer.token(sub="alice-sub", tid=tenant, roles=roles)
        return {"Authorization": f"Bearer {token}"}

    assert (await admin.call("POST", "/keys", body=new_key, headers=as_user("admin")))[0] == 201
    status, user = await admin.call(
        "POST", "/users", "acme_admin", {"name": "alice", "subject": "alice-sub", "role": "viewer"}
    )
    assert status == 201
    # registered as viewer: the token's admin claim no longer counts
    assert (await admin.call("POST", "/keys", body=new_key, headers=as_user("admin")))[0] == 403
    assert (await admin.call("GET", "/keys", headers=as_user("admin")))[0] == 200
    # raised to admin: a token that claims only viewer, or no role at all, may write
    patch = {"role": "admin"}
    assert (await admin.call("PATCH", f"/users/{user['id']}", "acme_admin", patch))[0] == 200
    assert (await admin.call("POST", "/keys", body=new_key, headers=as_user("viewer")))[0] == 201
    assert (await admin.call("POST", "/keys", body=new_key, headers=as_user(None)))[0] == 201
    # a registration in acme says nothing about the same subject in globex
    globex = as_user("viewer", tenant="globex")
    assert (await admin.call("POST", "/keys", body=new_key, headers=globex))[0] == 403
    # unregistered again: back to the claim, and no claim is no role
    assert (await admin.call("DELETE", f"/users/{user['id']}", "acme_admin"))[0] == 204
    assert (await admin.call("POST", "/keys", body=new_key, headers=as_user("viewer")))[0] == 403
    assert (await admin.call("GET", "/keys", headers=as_user(None)))[0] == 403
