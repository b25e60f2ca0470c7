"""Where a collection's store may lie: under one of the configured ``[search] roots``.

A collection is a pointer a tenant admin sets; without this guard it could point the server at
any folder it can read (another tenant's store, ``/etc``) or any URL (SSRF). Local paths are
resolved (symlinks followed) before the check, so a link inside a root cannot lead outside it;
object-store URLs (``s3://bucket/prefix``, any fsspec scheme) must start with a root's prefix,
segment by segment. The check runs at registration and again every time an index is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from flightdeck.core.errors import InvalidRequest

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_SHARD_FILE = re.compile(r"^shards/[A-Za-z0-9._-]+$")


def _refuse(message: str) -> InvalidRequest:
    return InvalidRequest(message, param="uri", code="uri_not_allowed")


def canonical_uri(uri: str) -> str:
    """A local path as its resolved absolute path, an object-store URL without a trailing '/'.

    Refuses relative paths, '..' segments, chained URLs (``a::b``), queries and fragments, and
    in URLs percent-escapes, backslashes and userinfo."""
    uri = uri.strip()
    if not uri:
        raise _refuse("uri must not be empty")
    if "::" in uri or "\x00" in uri:
        raise _refuse("chained or malformed URLs are not accepted")
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else "file"
    if scheme == "file":
        path = uri[len(match.group(0)) :] if match else uri
        if not os.path.isabs(path):
            raise _refuse(f"{uri!r} is not an absolute path")
        if ".." in path.split("/"):
            raise _refuse(f"{uri!r} contains '..'")
        return os.path.realpath(path)
    parts = urlsplit(uri)
    if not parts.netloc or parts.query or parts.fragment:
        raise _refuse(f"{uri!r} is not a plain scheme://bucket/prefix URL")
    if "%" in uri or "\\" in uri or "@" in parts.netloc:
        # percent-escapes and backslashes mean '/' or '..' to some fsspec backends
        raise _refuse(f"{uri!r} has percent-escapes, backslashes or credentials")
    segments = [s for s in parts.path.split("/")]
    if any(s in (".", "..") for s in segments) or "" in segments[1:-1]:
        raise _refuse(f"{uri!r} contains '.', '..' or empty path segments")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _under(path: str, root: str, sep: str) -> bool:
    return path == root or path.startswith(root.rstrip(sep) + sep)


def resolve_store_uri(uri: str, roots: Sequence[str]) -> str:
    """``uri`` in canonical form if it lies under one of ``roots``; else InvalidRequest (400)."""
    target = canonical_uri(uri)
    is_local = target.startswith("/")
    for root in roots:
        local_root = "://" not in root
        base = canonical_uri(os.path.abspath(os.path.expanduser(root)) if local_root else root)
        if is_local != base.startswith("/"):
            continue
        if _under(target, base, os.sep if is_local else "/"):
            return target
    raise _refuse(f"{uri!r} is not under a configured search root (setting search.roots)")


def check_shard_files(files: Sequence[str]) -> None:
    """A manifest may only name files inside its own ``shards/`` folder."""
    for file in files:
        if not _SHARD_FILE.fullmatch(file):
            raise InvalidRequest(f"the store's manifest names an unexpected file {file!r}")
