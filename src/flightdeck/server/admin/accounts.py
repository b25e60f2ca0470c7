"""What ``/admin/users`` and ``/admin/service-accounts`` share: lookups, role changes, names.

A user is an OAuth identity (``name`` plus the token's ``iss`` and ``sub``) whose registered role
overrides the role claim of their tokens; a service account owns API keys (``POST /admin/keys`` with
``service_account``) and deleting it revokes them. Same rules as every admin route: any role
reads its own tenant, admins write, platform admins manage every tenant; another tenant's
account answers 404, naming another tenant 403.
"""

from __future__ import annotations

from pydantic import BaseModel

from flightdeck.auth.accounts import AccountKind, AccountStore
from flightdeck.auth.keys import Role
from flightdeck.core.errors import NotFound
from flightdeck.server.admin.access import Access
from flightdeck.store.models_tenancy import Account

NAME_RULE = "1-63 lowercase letters, digits, '.', '_', '-' or '@'"


class RolePatch(BaseModel):
    """A new role for a user or service account."""

    role: Role


async def own_account(
    accounts: AccountStore, account_id: int, kind: AccountKind, caller: Access
) -> Account:
    """The account if the caller sees its tenant; 404 otherwise (whether or not it exists)."""
    record = await accounts.get(account_id, kind)
    if record is None or not caller.sees(record.tenant):
        what = "user" if kind is AccountKind.USER else "service account"
        raise NotFound(f"{what} {account_id} does not exist", code=f"{kind.value}_not_found")
    return record


async def set_role(
    accounts: AccountStore, account_id: int, kind: AccountKind, role: Role, caller: Access
) -> Account:
    """Change an account's role (the caller needs write access to its tenant)."""
    record = await own_account(accounts, account_id, kind, caller)
    caller.tenant(record.tenant, write=True)
    await accounts.set_role(account_id, role)
    record.role = role.value
    return record


async def delete_account(
    accounts: AccountStore, account_id: int, kind: AccountKind, caller: Access
) -> None:
    """Delete an account (the caller needs write access to its tenant)."""
    record = await own_account(accounts, account_id, kind, caller)
    caller.tenant(record.tenant, write=True)
    await accounts.delete(account_id)


async def service_account_named(accounts: AccountStore, name: str, tenant: str) -> Account:
    """The service account ``name`` of ``tenant`` (404 if there is none)."""
    found = await accounts.by_name(name, AccountKind.SERVICE, tenant)
    if not found:
        raise NotFound(
            f"service account {name!r} does not exist in tenant {tenant!r}",
            param="service_account",
            code="service_account_not_found",
        )
    return found[0]
