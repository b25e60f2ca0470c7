"""/admin inside the real app: mounted by create_app, sharing its key auth."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import MakeSettings, http

from flightdeck.core.settings import Settings
from flightdeck.testing.server import ServerThread


def test_admin_is_mounted_with_the_gateways_auth(
    make_settings: MakeSettings, serve: Callable[[Settings], ServerThread]
) -> None:
    server = serve(make_settings([{"name": "m", "base_url": "http://127.0.0.1:9/v1"}]))
    auth = {"Authorization": f"Bearer {server.api_key}"}  # an admin of the platform tenant
    status, _, created = http(
        "POST",
        server.url + "/admin/tenants",
        b'{"name": "acme"}',
        {**auth, "Content-Type": "application/json"},
    )
    assert status == 201 and created["name"] == "acme"
    status, _, tenants = http("GET", server.url + "/admin/tenants", headers=auth)
    assert status == 200 and [t["name"] for t in tenants] == ["acme"]
    assert http("GET", server.url + "/admin/keys")[0] == 401
    assert http("GET", server.url + "/admin/openapi.json")[0] == 401  # for admins only
    status, _, spec = http("GET", server.url + "/admin/openapi.json", headers=auth)
    assert status == 200 and "/usage" in spec["paths"]
