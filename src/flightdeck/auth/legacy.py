"""Identities stored before they were bound to their issuer get one, once.

Migration 0007 keyed users and OAuth users' conversations by (issuer, subject) and left the
rows it found with the issuer ``""`` (``LEGACY_ISSUER``): a database migration cannot read the
configuration. At start-up, ``adopt_legacy_identities`` gives those rows the issuer they came
from: ``[auth.oauth] legacy_issuer``, else the first configured issuer (with one issuer, that
one). Until then no token matches them, so an unadopted registration never grants anything, and
an unadopted conversation is not shown to anyone.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from flightdeck.auth.accounts import LEGACY_ISSUER, AccountKind
from flightdeck.core.tenancy_settings import OAuthSettings
from flightdeck.store.conversations import Conversation
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Account

log = logging.getLogger("flightdeck.auth")


async def adopt_legacy_identities(store: Store, oauth: OAuthSettings) -> int:
    """Give rows without an issuer the adopting issuer; returns how many rows changed."""
    issuer = oauth.adopting_issuer
    if issuer is None:
        return 0  # no OAuth configured: nothing can match them anyway; adopt on a later start
    async with store.session() as session, session.begin():
        users = await session.execute(
            update(Account)
            .where(Account.kind == AccountKind.USER.value, Account.issuer == LEGACY_ISSUER)
            .values(issuer=issuer)
        )
        conversations = await session.execute(
            update(Conversation)
            .where(Conversation.owner_issuer == LEGACY_ISSUER)
            .values(owner_issuer=issuer)
        )
    changed = int(users.rowcount) + int(conversations.rowcount)  # type: ignore[attr-defined]
    if changed:
        log.warning(
            "bound %d user(s) and conversation(s) stored before issuer binding to issuer %s "
            "([auth.oauth] legacy_issuer)",
            changed,
            issuer,
        )
    return changed
