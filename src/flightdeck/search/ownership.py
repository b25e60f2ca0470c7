"""Who owns a media store: the tenant whose folder of a search root holds it.

Each search root (``[search] roots``) has one folder per tenant, ``<root>/tenants/<tenant>/``;
a store written anywhere inside it (``flightdeck media ingest ... <root>/tenants/acme/photos``)
belongs to that tenant. Only the operator writes stores, so no tenant can make itself the owner
of another's store; the check runs on the canonical location (symlinks resolved, ``..`` and
chained URLs refused, object-store prefixes compared segment by segment: ``s3://b/tenants/t1``
is not inside ``s3://b/tenants/t10``), on every registration and every use. Stores elsewhere
under a root (or in a folder whose name is not a tenant name, ``tenants/ACME``) belong to no
tenant: only a platform admin's share (``search/shares.py``) opens them to one.

A tenant's users never see absolute server locations: their own stores are named relative to
their folder (``photos``), shared ones ``shared:<name>``; local document sources are shown
relative to their folder, or by file name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.tenancy_settings import TENANT_NAME_SHAPE
from flightdeck.search.locations import canonical_uri, resolve_store_uri

TENANTS_FOLDER = "tenants"
SHARED_PREFIX = "shared:"
_RELATIVE_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A store's canonical URI, its owner (a tenant, or None) and its name in the owner's
    folder (``""`` when it has no owner)."""

    uri: str
    owner: str | None
    relative: str


def _separator(uri: str) -> str:
    return os.sep if uri.startswith("/") else "/"


def canonical_roots(roots: Sequence[str]) -> list[str]:
    """The roots as canonical URIs (local ones absolute, symlinks resolved)."""
    out = []
    for root in roots:
        local = "://" not in root
        out.append(canonical_uri(os.path.abspath(os.path.expanduser(root)) if local else root))
    return out


def _inside(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` when it lies inside it (segment-wise), else None."""
    sep = _separator(base)
    if path == base:
        return ""
    prefix = base.rstrip(sep) + sep
    return path[len(prefix) :] if path.startswith(prefix) else None


def locate(canonical: str, roots: Sequence[str]) -> StoreLocation:
    """The owner of a store at a canonical URI (already checked to lie under a root).

    With nested roots the innermost one decides, so a store has exactly one owner."""
    best: str | None = None
    for base in canonical_roots(roots):
        if base.startswith("/") != canonical.startswith("/"):
            continue
        rest = _inside(canonical, base)
        if rest is not None and (best is None or len(rest) < len(best)):
            best = rest
    if best is None:
        return StoreLocation(canonical, None, "")
    parts = best.split(_separator(canonical), 2)
    if len(parts) == 3 and parts[0] == TENANTS_FOLDER and TENANT_NAME_SHAPE.fullmatch(parts[1]):
        return StoreLocation(canonical, parts[1], parts[2])
    return StoreLocation(canonical, None, "")


def locate_uri(uri: str, roots: Sequence[str]) -> StoreLocation:
    """Canonicalise ``uri`` (400 if it is not under a root) and find its owner."""
    return locate(resolve_store_uri(uri, roots), roots)


def is_tenant_relative(uri: str) -> bool:
    """Whether ``uri`` names a store relative to the caller's folder (``photos``, ``a/b``)."""
    return "://" not in uri and not uri.startswith(("/", SHARED_PREFIX)) and ":" not in uri


def tenant_candidates(tenant: str, relative: str, roots: Sequence[str]) -> list[str]:
    """Where a tenant-relative store name may be: ``<root>/tenants/<tenant>/<relative>`` for
    each root, in order. 400 if the name has anything but plain segments."""
    segments = relative.split("/")
    if not relative or not all(_RELATIVE_SEGMENT.fullmatch(s) for s in segments):
        raise InvalidRequest(
            f"{relative!r} is not a store name: use plain folder names ('photos', "
            "'2024/photos'), 'shared:<name>' for a store shared with you, or an absolute location",
            param="uri",
            code="uri_not_allowed",
        )
    out = []
    for base in canonical_roots(roots):
        sep = _separator(base)
        out.append(sep.join([base.rstrip(sep), TENANTS_FOLDER, tenant, *segments]))
    return out


def display_source(source: str, tenant: str, roots: Sequence[str]) -> str:
    """A document's source as a tenant's user may see it: URLs as they are; a local path
    relative to the tenant's own folder when inside it, else only its file name."""
    local = source.startswith("/") or source.startswith("file://")
    if not local:
        return source
    path = source.removeprefix("file://")
    for base in canonical_roots(roots):
        if not base.startswith("/"):
            continue
        rest = _inside(path, os.path.join(base, TENANTS_FOLDER, tenant))
        if rest:
            return rest
    return os.path.basename(path.rstrip("/"))


def hide_locations(text: str, roots: Sequence[str]) -> str:
    """``text`` with server locations under the roots made relative: a tenant folder's prefix
    (``<root>/tenants/<tenant>/``) is dropped, any other place under a root starts at
    ``<root>``. For error messages that reach tenants' users."""
    for base in sorted(canonical_roots(roots), key=len, reverse=True):
        sep = _separator(base)
        stem = base.rstrip(sep)
        text = re.sub(
            re.escape(stem + sep + TENANTS_FOLDER + sep) + r"[a-z0-9][a-z0-9._-]*" + re.escape(sep),
            "",
            text,
        )
        text = text.replace(stem, "<root>")
    return text
