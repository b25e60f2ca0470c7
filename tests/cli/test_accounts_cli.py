"""``flightdeck users|service-accounts`` and service-account keys: a real process, real SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flightdeck.auth.keys import Authenticator, KeyStore, Principal
from flightdeck.core.errors import AuthenticationError
from flightdeck.store.database import Store
from tests.cli.test_cli import flightdeck


def authenticate(tmp_path: Path, key: str) -> Principal | None:
    async def check() -> Principal | None:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / '.flightdeck' / 'flightdeck.db'}")
        try:
            return await Authenticator(KeyStore(store), 0).authenticate(f"Bearer {key}")
        except AuthenticationError:
            return None
        finally:
            await store.close()

    return asyncio.run(check())


def table_rows(stdout: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in stdout.splitlines()
        if line.strip().startswith("│") and not line.strip().startswith("│ id")
    ]


def test_users_create_list_set_role_delete(tmp_path: Path) -> None:
    missing = flightdeck(
        "users", "create", "alice", "--tenant", "acme", "--subject", "s1", cwd=tmp_path
    )
    assert missing.returncode == 2 and "tenant 'acme' does not exist" in missing.stderr
    flightdeck("tenants", "create", "acme", cwd=tmp_path)
    no_issuer = flightdeck(
        "users", "create", "alice", "--tenant", "acme", "--subject", "s1", cwd=tmp_path
    )
    assert no_issuer.returncode == 2 and "name the `issuer`" in no_issuer.stderr
    iss = ("--issuer", "https://login.test/")
    created = flightdeck(
        "users", "create", "alice", "--tenant", "acme", "--subject", "s1", "--role", "viewer",
        *iss, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    again = flightdeck(
        "users", "create", "alicia", "--tenant", "acme", "--subject", "s1", *iss, cwd=tmp_path
    )
    assert again.returncode == 2 and "subject 's1' of issuer" in again.stderr
    bad = flightdeck(
        "users", "create", "Alice Smith", "--tenant", "acme", "--subject", "x", *iss, cwd=tmp_path
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "account name" in bad.stderr and "Traceback" not in bad.stderr

    raised = flightdeck(
        "users", "set-role", "alice", "--tenant", "acme", "--role", "admin", cwd=tmp_path
    )
    assert raised.returncode == 0, raised.stderr
    listed = flightdeck("users", "list", "--tenant", "acme", cwd=tmp_path)
    assert [row[1:5] for row in table_rows(listed.stdout)] == [
        ["alice", "https://login.test/", "s1", "admin"]
    ]

    assert flightdeck("users", "delete", "alice", "--tenant", "acme", cwd=tmp_path).returncode == 0
    gone = flightdeck("users", "delete", "alice", "--tenant", "acme", cwd=tmp_path)
    assert gone.returncode == 2 and "no user 'alice' in tenant 'acme'" in gone.stderr
    assert table_rows(flightdeck("users", "list", "--tenant", "acme", cwd=tmp_path).stdout) == []


def test_service_account_keys_are_created_listed_and_revoked_with_it(tmp_path: Path) -> None:
    flightdeck("tenants", "create", "acme", cwd=tmp_path)
    created = flightdeck("service-accounts", "create", "ci", "--tenant", "acme", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    too_high = flightdeck(
        "keys", "create", "--name", "ci-1", "--service-account", "ci", "--role", "admin",
        cwd=tmp_path,
    )  # fmt: skip
    assert (
        too_high.returncode == 2 and "exceeds service account ci's role member" in too_high.stderr
    )
    unknown = flightdeck("keys", "create", "--name", "x", "--service-account", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "no service account 'nope'" in unknown.stderr
    wrong_tenant = flightdeck(
        "keys", "create", "--name", "x", "--service-account", "ci", "--tenant", "default",
        cwd=tmp_path,
    )  # fmt: skip
    assert wrong_tenant.returncode == 2 and "in tenant 'default'" in wrong_tenant.stderr

    made = flightdeck("keys", "create", "--name", "ci-1", "--service-account", "ci", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    principal = authenticate(tmp_path, key)
    assert principal is not None
    assert (principal.tenant, principal.role, principal.user) == ("acme", "member", "service:ci")
    keys = table_rows(flightdeck("keys", "list", cwd=tmp_path).stdout)
    assert [(row[1], row[3], row[5]) for row in keys] == [("ci-1", "acme", "ci")]
    listed = flightdeck("service-accounts", "list", "--tenant", "acme", cwd=tmp_path)
    assert [row[1:3] for row in table_rows(listed.stdout)] == [["ci", "member"]]
    lowered = flightdeck(
        "service-accounts", "set-role", "ci", "--tenant", "acme", "--role", "viewer", cwd=tmp_path
    )
    assert lowered.returncode == 0, lowered.stderr
    principal = authenticate(tmp_path, key)
    assert principal is not None and principal.role == "viewer"  # the account caps its keys

    deleted = flightdeck("service-accounts", "delete", "ci", "--tenant", "acme", cwd=tmp_path)
    assert deleted.returncode == 0 and "revoked 1 key(s)" in deleted.stdout
    assert authenticate(tmp_path, key) is None
