"""Accounts on SQLite and PostgreSQL: names, subjects, service-account keys, registered roles."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from flightdeck.auth.accounts import AccountExists, AccountKind, AccountStore
from flightdeck.auth.keys import Authenticator, KeyStore, Principal, Role, hash_key
from flightdeck.auth.user_roles import UserRoles
from flightdeck.core.errors import AuthenticationError, InvalidRequest, UpstreamUnavailable
from flightdeck.store.database import Store

USER, SERVICE = AccountKind.USER, AccountKind.SERVICE
ISS, OTHER_ISS = "https://login.acme.test/", "https://idp.globex.test/"


async def test_accounts_are_listed_per_tenant_and_kind(store: Store, tenant: str) -> None:
    accounts = AccountStore(store)
    await accounts.create(
        tenant, "bob@acme.com", kind=USER, subject="sub|bob", issuer=ISS, role=Role.ADMIN
    )
    await accounts.create(tenant, "alice", kind=USER, subject="sub|alice", issuer=ISS)
    await accounts.create(tenant, "ci", kind=SERVICE, role=Role.VIEWER)
    await accounts.create(tenant + "x", "alice", kind=USER, subject="sub|alice", issuer=ISS)
    users = await accounts.list(tenant, USER)
    assert [(u.name, u.subject, u.role) for u in users] == [
        ("alice", "sub|alice", "member"),
        ("bob@acme.com", "sub|bob", "admin"),
    ]
    assert [(a.name, a.role, a.subject) for a in await accounts.list(tenant, SERVICE)] == [
        ("ci", "viewer", None)
    ]
    assert await accounts.get(users[0].id, SERVICE) is None  # a user is not a service account
    assert [a.tenant for a in await accounts.by_name("alice", USER, None)] == [tenant, tenant + "x"]


@pytest.mark.parametrize("name", ["", "Alice", "-ci", "a b", "ci/../x", "x" * 64, "é", "ci\n"])
async def test_bad_names_are_refused(store: Store, tenant: str, name: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        await AccountStore(store).create(tenant, name, kind=SERVICE)
    assert err.value.status == 400 and err.value.param == "name"


@pytest.mark.parametrize("subject", ["", " sub", "sub ", "a\nb", "s" * 256])
async def test_bad_subjects_are_refused(store: Store, tenant: str, subject: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        await AccountStore(store).create(tenant, "alice", kind=USER, subject=subject, issuer=ISS)
    assert err.value.param == "subject"


async def test_a_service_account_has_no_subject(store: Store, tenant: str) -> None:
    with pytest.raises(InvalidRequest):
        await AccountStore(store).create(tenant, "ci", kind=SERVICE, subject="x")


async def test_names_and_subjects_are_unique_in_a_tenant(store: Store, tenant: str) -> None:
    accounts = AccountStore(store)
    await accounts.create(tenant, "alice", kind=USER, subject="s1", issuer=ISS)
    with pytest.raises(AccountExists) as err:
        await accounts.create(tenant, "alice", kind=SERVICE)
    assert err.value.status == 409 and "already exists" in err.value.message
    with pytest.raises(AccountExists) as err:
        await accounts.create(tenant, "alicia", kind=USER, subject="s1", issuer=ISS)
    assert err.value.param == "subject"


async def test_service_account_keys_run_as_the_account_until_it_is_deleted(
    store: Store, tenant: str
) -> None:
    accounts, keys = AccountStore(store), KeyStore(store)
    robot = await accounts.create(tenant, "ci", kind=SERVICE)
    record, key = await keys.create("ci-1", tenant=tenant, account_id=robot.id)
    _, plain = await keys.create("plain", tenant=tenant)
    auth = Authenticator(keys, ttl=0)
    principal = await auth.authenticate(f"Bearer {key}")
    assert (principal.key_id, principal.tenant, principal.user) == (record.id, tenant, "service:ci")
    assert (await auth.authenticate(f"Bearer {plain}")).user is None

    assert await accounts.delete(robot.id) == 1
    with pytest.raises(AuthenticationError):
        await auth.authenticate(f"Bearer {key}")
    assert (await auth.authenticate(f"Bearer {plain}")).key_id is not None


async def test_a_key_whose_account_vanished_is_refused(store: Store, tenant: str) -> None:
    keys = KeyStore(store)
    _, key = await keys.create("orphan", tenant=tenant, account_id=987654)
    assert await keys.principal_for(hash_key(key)) is None


async def test_user_role_is_found_by_tenant_and_subject(store: Store, tenant: str) -> None:
    accounts = AccountStore(store)
    alice = await accounts.create(
        tenant, "alice", kind=USER, subject="s1", issuer=ISS, role=Role.VIEWER
    )
    await accounts.create(tenant, "ci", kind=SERVICE, role=Role.ADMIN)
    assert await accounts.user_role(tenant, ISS, "s1") is Role.VIEWER
    assert await accounts.user_role(tenant + "x", ISS, "s1") is None
    assert await accounts.user_role(tenant, ISS, "ci") is None
    await accounts.set_role(alice.id, Role.ADMIN)
    assert await accounts.user_role(tenant, ISS, "s1") is Role.ADMIN


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingAccounts(AccountStore):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.lookups = 0
        self.down = False

    async def user_role(self, tenant: str, issuer: str, subject: str) -> Role | None:
        self.lookups += 1
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError())
        await asyncio.sleep(0.01)  # long enough for concurrent misses to pile up
        return await super().user_role(tenant, issuer, subject)


async def test_registered_roles_are_cached_for_the_ttl(store: Store, tenant: str) -> None:
    accounts, clock = CountingAccounts(store), Clock()
    roles = UserRoles(accounts, ttl=5, clock=clock)
    alice = await accounts.create(
        tenant, "alice", kind=USER, subject="s1", issuer=ISS, role=Role.VIEWER
    )
    assert await roles.role(tenant, ISS, "s1") is Role.VIEWER
    assert await roles.role(tenant, ISS, "nobody") is None
    await accounts.set_role(alice.id, Role.ADMIN)
    clock.now = 4.9
    assert await roles.role(tenant, ISS, "s1") is Role.VIEWER  # still cached
    assert await roles.role(tenant, ISS, "nobody") is None  # misses are cached too
    assert accounts.lookups == 2
    clock.now = 5.1
    assert await roles.role(tenant, ISS, "s1") is Role.ADMIN
    await accounts.delete(alice.id)
    clock.now = 10.2
    assert await roles.role(tenant, ISS, "s1") is None


async def test_concurrent_misses_cost_one_lookup(store: Store, tenant: str) -> None:
    accounts = CountingAccounts(store)
    await accounts.create(tenant, "alice", kind=USER, subject="s1", issuer=ISS, role=Role.ADMIN)
    roles = UserRoles(accounts, ttl=5)
    answers = await asyncio.gather(*(roles.role(tenant, ISS, "s1") for _ in range(20)))
    assert answers == [Role.ADMIN] * 20 and accounts.lookups == 1


async def test_store_outage_keeps_the_last_answer_and_refuses_the_unknown(
    store: Store, tenant: str
) -> None:
    accounts, clock = CountingAccounts(store), Clock()
    await accounts.create(tenant, "alice", kind=USER, subject="s1", issuer=ISS, role=Role.VIEWER)
    roles = UserRoles(accounts, ttl=1, clock=clock)
    assert await roles.role(tenant, ISS, "s1") is Role.VIEWER
    accounts.down, clock.now = True, 2.0
    assert await roles.role(tenant, ISS, "s1") is Role.VIEWER
    with pytest.raises(UpstreamUnavailable) as err:  # the claim might grant more: no guessing
        await roles.role(tenant, ISS, "s2")
    assert err.value.status == 503


async def test_the_database_keeps_one_user_per_subject(store: Store, tenant: str) -> None:
    accounts = AccountStore(store)
    results = await asyncio.gather(
        *(
            accounts.create(tenant, f"alice{i}", kind=USER, subject="same-sub", issuer=ISS)
            for i in range(8)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1, results
    assert all(isinstance(r, AccountExists) for r in refused), refused
    # service accounts (no subject) never collide with each other
    for i in range(3):
        await accounts.create(tenant, f"bot{i}", kind=SERVICE)


async def test_the_same_subject_from_two_issuers_is_two_users(store: Store, tenant: str) -> None:
    accounts = AccountStore(store)
    await accounts.create(tenant, "alice", kind=USER, subject="s1", issuer=ISS, role=Role.ADMIN)
    mallory = await accounts.create(tenant, "mallory", kind=USER, subject="s1", issuer=OTHER_ISS)
    assert mallory.issuer == OTHER_ISS
    assert await accounts.user_role(tenant, ISS, "s1") is Role.ADMIN
    assert await accounts.user_role(tenant, OTHER_ISS, "s1") is Role.MEMBER
    assert await accounts.user_role(tenant, "https://third.test/", "s1") is None


async def test_a_user_needs_an_issuer(store: Store, tenant: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        await AccountStore(store).create(tenant, "alice", kind=USER, subject="s1")
    assert err.value.param == "issuer"


async def test_the_key_cache_evicts_the_least_recently_used_key_when_full(
    store: Store, tenant: str
) -> None:
    class Counting(KeyStore):
        lookups = 0

        async def principal_for(self, key_hash: str) -> Principal | None:
            Counting.lookups += 1
            return await super().principal_for(key_hash)

    keys = Counting(store)
    _, busy = await keys.create("busy", tenant=tenant)
    auth = Authenticator(keys, ttl=60, max_entries=4)
    await auth.authenticate(f"Bearer {busy}")
    for i in range(10):  # a flood of made-up keys, while the busy key keeps being used
        with pytest.raises(AuthenticationError):
            await auth.authenticate(f"Bearer fd-made-up-{i}")
        await auth.authenticate(f"Bearer {busy}")
    assert Counting.lookups == 1 + 10  # the busy key was looked up once, never evicted
