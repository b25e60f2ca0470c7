"""RFC 9068 access tokens against a local issuer with real keys: what passes, and every refusal."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Authenticator, KeyStore, Role
from flightdeck.auth.oauth import OAuthValidator
from flightdeck.core.errors import AuthenticationError, PermissionDenied
from flightdeck.core.tenancy_settings import OAuthIssuer, OAuthSettings
from flightdeck.store.database import Store

from .jwks_issuer import LocalIssuer, ec_key, forge, rsa_key


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    local = await LocalIssuer([rsa_key("rsa-1")]).start()
    yield local
    await local.stop()


@pytest.fixture
async def ec_issuer() -> AsyncIterator[LocalIssuer]:
    local = await LocalIssuer([ec_key("ec-1")], audience="flightdeck-ec").start()
    yield local
    await local.stop()


def validator(
    *issuers: LocalIssuer,
    algorithms: list[str] | None = None,
    tenants: list[str] | None = None,
    platform_admin: bool = False,
    **kw: Any,
) -> OAuthValidator:
    configs = [
        OAuthIssuer(
            issuer=i.issuer,
            jwks_url=i.jwks_url,
            audience=i.audience,
            algorithms=algorithms or [i.keys[0].alg],
            role_map={"Flightdeck.Admin": "admin"},
            tenants=tenants or ["*"],
            platform_admin=platform_admin,
        )
        for i in issuers
    ]
    return OAuthValidator(OAuthSettings(issuers=configs, **kw), platform_tenant="default")


async def test_valid_rsa_access_token_maps_tenant_and_role(issuer: LocalIssuer) -> None:
    identity = await validator(issuer).validate(issuer.token())
    assert (identity.tenant, identity.role, identity.subject) == ("acme", Role.MEMBER, "user-42")
    assert identity.client_id == "web-app"


async def test_valid_ec_token_from_a_second_issuer(
    issuer: LocalIssuer, ec_issuer: LocalIssuer
) -> None:
    v = validator(issuer, ec_issuer)
    identity = await v.validate(ec_issuer.token(roles="viewer"))
    assert identity.role is Role.VIEWER
    assert identity.issuer == ec_issuer.issuer


async def test_role_list_takes_the_highest_mapped_role(issuer: LocalIssuer) -> None:
    token = issuer.token(roles=["viewer", "Flightdeck.Admin", "unknown"])
    assert (await validator(issuer).validate(token)).role is Role.ADMIN


async def test_expiry_inside_the_leeway_is_accepted(issuer: LocalIssuer) -> None:
    claims = issuer.claims()
    token = issuer.token(exp=claims["iat"] - 20, iat=claims["iat"] - 400)
    await validator(issuer, leeway_seconds=30).validate(token)


async def test_rotated_key_is_fetched_once_for_an_unknown_kid(issuer: LocalIssuer) -> None:
    v = validator(issuer, jwks_min_refresh_seconds=0)
    await v.validate(issuer.token())
    rotated = rsa_key("rsa-2")
    issuer.keys.append(rotated)
    await v.validate(issuer.token(key=rotated))
    assert issuer.requests == ["/jwks.json", "/jwks.json"]


async def test_unknown_kids_cannot_hammer_the_jwks(issuer: LocalIssuer) -> None:
    v = validator(issuer, jwks_min_refresh_seconds=60)
    await v.validate(issuer.token())
    stranger = rsa_key("never-published")
    for _ in range(20):
        with pytest.raises(AuthenticationError):
            await v.validate(issuer.token(key=stranger))
    assert len(issuer.requests) == 1


async def test_token_without_a_role_is_forbidden(issuer: LocalIssuer) -> None:
    with pytest.raises(PermissionDenied):
        await validator(issuer).validate(issuer.token(roles=["guest"]))


def tamper(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def rejected_tokens(issuer: LocalIssuer) -> dict[str, str]:
    key = issuer.keys[0]
    claims = issuer.claims()
    return {
        "alg_none": forge({"alg": "none", "typ": "at+jwt", "kid": key.kid}, claims, None),
        "alg_none_uppercase": forge({"alg": "NONE", "typ": "at+jwt", "kid": key.kid}, claims, None),
        "hs256_signed_with_rsa_public_key": forge(
            {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}, claims, key.public_pem()
        ),
        "tampered_payload": tamper(issuer.token(), tid="other-tenant"),
        "wrong_audience": issuer.token(aud="someone-else"),
        "wrong_issuer": issuer.token(iss="https://evil.example.com/"),
        "expired": issuer.token(exp=claims["iat"] - 120, iat=claims["iat"] - 400),
        "not_yet_valid": issuer.token(nbf=claims["iat"] + 120),
        "id_token_typ_jwt": issuer.token(headers={"typ": "JWT"}),
        "no_typ": issuer.token(headers={"typ": None}),
        "kid_with_path": issuer.token(headers={"kid": "../../../etc/passwd"}),
        "kid_with_sql": issuer.token(headers={"kid": "x' OR '1'='1"}),
        "kid_with_trailing_newline": issuer.token(headers={"kid": key.kid + "\n"}),
        "signed_by_unpublished_key_with_known_kid": issuer.token(key=rsa_key(key.kid)),
        "missing_sub": issuer.token(sub=None),
        "missing_exp": issuer.token(exp=None),
        "not_a_jwt": "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
    }


CASES = [
    "alg_none",
    "alg_none_uppercase",
    "hs256_signed_with_rsa_public_key",
    "tampered_payload",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "not_yet_valid",
    "id_token_typ_jwt",
    "no_typ",
    "kid_with_path",
    "kid_with_sql",
    "kid_with_trailing_newline",
    "signed_by_unpublished_key_with_known_kid",
    "missing_sub",
    "missing_exp",
    "not_a_jwt",
]


@pytest.mark.parametrize("case", CASES)
async def test_rejected_with_the_same_401_and_no_detail(
    issuer: LocalIssuer, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = rejected_tokens(issuer)[case]
    caplog.set_level(logging.DEBUG, logger="flightdeck.auth")
    with pytest.raises(AuthenticationError) as err:
        await validator(issuer).validate(token)
    assert err.value.status == 401
    assert err.value.message == "Invalid access token"
    assert token not in caplog.text  # the reason is logged, the token never


async def test_rs256_token_refused_by_an_issuer_fixed_to_es256(issuer: LocalIssuer) -> None:
    with pytest.raises(AuthenticationError):
        await validator(issuer, algorithms=["ES256"]).validate(issuer.token())


async def test_alg_that_does_not_fit_the_key_type_is_refused(
    issuer: LocalIssuer, ec_issuer: LocalIssuer
) -> None:
    # The issuer allows RS256 and ES256; a token claims ES256 under the RSA key's kid.
    signed = ec_issuer.token(
        key=ec_issuer.keys[0],
        headers={"kid": issuer.keys[0].kid},
        iss=issuer.issuer,
        aud=issuer.audience,
    )
    with pytest.raises(AuthenticationError):
        await validator(issuer, algorithms=["RS256", "ES256"]).validate(signed)


async def test_jku_in_the_header_is_never_fetched(issuer: LocalIssuer) -> None:
    attacker = await LocalIssuer([rsa_key("evil")]).start()
    try:
        token = issuer.token(key=attacker.keys[0], headers={"jku": attacker.jwks_url})
        with pytest.raises(AuthenticationError):
            await validator(issuer).validate(token)
        assert attacker.requests == []
    finally:
        await attacker.stop()


def test_jwks_url_must_be_https_unless_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        OAuthIssuer(issuer="x", jwks_url="http://login.example.com/jwks", audience="a")
    OAuthIssuer(issuer="x", jwks_url="https://login.example.com/jwks", audience="a")
    OAuthIssuer(issuer="x", jwks_url="http://[::1]:8080/jwks", audience="a")


def test_leeway_over_60_seconds_is_a_config_error() -> None:
    with pytest.raises(ValueError):
        OAuthSettings(leeway_seconds=61)


async def test_symmetric_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        OAuthIssuer(issuer="x", jwks_url="https://a/j", audience="a", algorithms=["HS256"])


async def test_token_in_query_string_is_refused(issuer: LocalIssuer, tmp_path: Any) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    await store.migrate()
    caller = CallerAuthenticator(Authenticator(KeyStore(store), 0), validator(issuer))
    token = issuer.token()
    assert (await caller.authenticate(f"Bearer {token}")).tenant == "acme"
    with pytest.raises(AuthenticationError) as err:
        await caller.authenticate(None, {"access_token": token})
    assert err.value.status == 401
    with pytest.raises(AuthenticationError):
        await caller.authenticate(f"Bearer {token}", {"access_token": token})
    await store.close()


async def test_a_tenant_claim_with_a_trailing_newline_names_no_tenant(issuer: LocalIssuer) -> None:
    token = issuer.token(tid=issuer.claims()["tid"] + "\n")
    with pytest.raises(PermissionDenied, match="no valid tenant"):
        await validator(issuer).validate(token)


async def test_an_issuer_speaks_only_for_the_tenants_it_is_bound_to(issuer: LocalIssuer) -> None:
    bound = validator(issuer, tenants=["acme", "initech"])
    assert (await bound.validate(issuer.token(tid="initech"))).tenant == "initech"
    with pytest.raises(PermissionDenied) as err:
        await bound.validate(issuer.token(tid="globex"))
    assert err.value.code == "issuer_not_allowed_for_tenant"
    with pytest.raises(PermissionDenied):  # '*' is not a tenant name a token can carry
        await bound.validate(issuer.token(tid="*"))


async def test_an_admin_claim_in_the_platform_tenant_needs_a_trusted_issuer(
    issuer: LocalIssuer,
) -> None:
    token = issuer.token(tid="default", roles=["admin"])
    assert (await validator(issuer).validate(token)).role is Role.MEMBER
    trusted = validator(issuer, platform_admin=True)
    assert (await trusted.validate(token)).role is Role.ADMIN
    # elsewhere an admin claim stays an admin claim
    assert (await validator(issuer).validate(issuer.token(roles=["admin"]))).role is Role.ADMIN


def test_several_issuers_must_each_name_their_tenants() -> None:
    first = {"issuer": "a", "jwks_url": "https://a/j", "audience": "x", "tenants": ["acme"]}
    second = {"issuer": "b", "jwks_url": "https://b/j", "audience": "x"}
    with pytest.raises(ValueError, match=r"issuers\[1\].tenants"):
        OAuthSettings.model_validate({"issuers": [first, second]})
    OAuthSettings.model_validate({"issuers": [second]})  # one issuer alone: every tenant
    with pytest.raises(ValueError, match="not a tenant name"):
        OAuthIssuer.model_validate(second | {"tenants": ["Acme"]})
    with pytest.raises(ValueError, match="legacy_issuer"):
        OAuthSettings.model_validate({"issuers": [second], "legacy_issuer": "c"})
