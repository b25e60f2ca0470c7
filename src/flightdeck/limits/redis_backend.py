"""Limits shared by every gateway replica: Redis, with every check-and-reserve atomic in Lua.

Operations are batched: while one script call is in flight, the acquires and settles of other
requests queue up and go together in the next call (``limits.lua`` runs them in order, each as
atomic as alone). Under load that is one round trip for many requests; idle, it adds nothing.
The script reads Redis's own clock (``TIME``), so replicas with skewed clocks still agree.
Keys are ``{prefix}{scope}:{log|amt|tot|lease}`` and ``{prefix}{scope}:spend:{YYYYMM}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

from flightdeck.limits.backend import (
    WINDOW_SECONDS,
    SpendLoader,
    load_spend,
    month_of,
    no_spend,
    seconds_to_month_end,
)
from flightdeck.limits.scopes import Decision, Demand, Reason, Remaining, Scope

SPEND_TTL_SECONDS = 40 * 24 * 3600
SCRIPT = files("flightdeck.limits").joinpath("limits.lua").read_text()
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)
MAX_BATCH = 256


class _Op:
    __slots__ = ("args", "done", "keys")

    def __init__(self, keys: list[bytes], args: list[int | str]) -> None:
        self.keys = keys
        self.args = args
        self.done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()


def bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


def unbulk(encoded: bytes) -> bytes:
    return encoded[encoded.index(b"\r\n") + 2 : -2]


def pack(command: str, script: str, keys: list[bytes], args: list[int | str]) -> bytes:
    """``EVALSHA sha numkeys key... arg...`` as one RESP array (keys come pre-encoded)."""
    parts = [
        b"*%d\r\n" % (3 + len(keys) + len(args)),
        bulk(command.encode()),
        bulk(script.encode()),
    ]
    parts.append(bulk(b"%d" % len(keys)))
    parts += keys
    parts += [bulk(a.encode() if isinstance(a, str) else b"%d" % a) for a in args]
    return b"".join(parts)


def connect(url: str, timeout: float, max_connections: int = 2048) -> Redis:
    """A client that fails fast (no retries): the limiter decides what an outage means.

    The pool is large (redis-py's default of 100 is below a busy replica's concurrency); past
    it, ``MaxConnectionsError`` is answered as a busy 429, not taken for an outage.
    """
    pool = ConnectionPool.from_url(
        url,
        max_connections=max_connections,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return Redis(connection_pool=pool)


class RedisBackend:
    """Limits kept in Redis, shared by every replica; each reservation is one Lua script."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "fd:lim:",
        spend_loader: SpendLoader = no_spend,
        lease_seconds: float = 900.0,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.spend_loader = spend_loader
        self.lease_ms = int(lease_seconds * 1000)
        self.window_ms = int(window_seconds * 1000)
        self._queue: list[_Op] = []
        self._sender: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None
        self._keys: dict[tuple[str, str], list[bytes]] = {}

    async def _run(self, keys: list[bytes], args: list[int | str]) -> Any:
        """Queue one operation for the next batch and wait for its result."""
        op = _Op(keys, args)
        self._queue.append(op)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_batches())
        return await op.done

    async def _send_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            keys = [k for op in batch for k in op.keys]
            args: list[int | str] = [len(batch)]
            for op in batch:
                args += op.args
            try:
                results = await self._eval(keys, args)
            except BaseException as exc:
                for op in batch:
                    if not op.done.done():
                        op.done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for op, result in zip(batch, results, strict=True):
                if not op.done.done():
                    op.done.set_result(result)

    async def _eval(self, keys: list[bytes], args: list[int | str]) -> Any:
        """EVALSHA on the sender's own connection, packed here; loads the script on NOSCRIPT.

        Only the batch sender calls this, one batch at a time, so one connection serves it and
        redis-py's per-command pool and retry machinery stays off the hot path. Any error drops
        the connection; the limiter decides what a failure means.
        """
        conn = self._conn
        if conn is None:
            conn = self._conn = await self.client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            try:
                await conn.send_packed_command(pack("EVALSHA", SCRIPT_SHA, keys, args), False)
                return await conn.read_response()
            except NoScriptError:
                await conn.send_packed_command(pack("EVAL", SCRIPT, keys, args), False)
                return await conn.read_response()
        except BaseException:
            self._conn = None
            await conn.disconnect()
            await self.client.connection_pool.release(conn)
            raise

    def keys(self, scope: str, month: str) -> list[bytes]:
        """The scope's five keys, RESP-encoded once per scope and month."""
        cached = self._keys.get((scope, month))
        if cached is None:
            base = f"{self.prefix}{scope}:"
            names = [
                base + "log",
                base + "amt",
                base + "tot",
                base + "lease",
                f"{base}spend:{month}",
            ]
            cached = [bulk(name.encode()) for name in names]
            if len(self._keys) > 100_000:
                self._keys.clear()
            self._keys[(scope, month)] = cached
        return cached

    async def ping(self) -> None:
        await self.client.ping()

    async def acquire(
        self, scopes: Sequence[Scope], reservation_id: str, demand: Demand
    ) -> Decision:
        month = month_of(time.time())
        keys = [k for s in scopes for k in self.keys(s.name, month)]
        args: list[int | str] = [
            "a",
            reservation_id,
            demand.tokens,
            demand.cost_micros,
            self.window_ms,
            self.lease_ms,
            SPEND_TTL_SECONDS,
            len(scopes),
        ]
        for s in scopes:
            args += [
                s.requests_per_minute,
                s.tokens_per_minute,
                s.concurrent_requests,
                s.monthly_budget_micros,
            ]
        for _ in range(len(scopes) + 1):
            out = await self._run(keys, args)
            if int(out[0]) != -2:
                return self._decision(scopes, out)
            index = int(out[1])  # month spend unknown here: seed it once, then retry
            spent = await load_spend(self.spend_loader, scopes[index], month)
            if spent is None:  # unknown for now: this request goes without that budget check
                args[8 + index * 4 + 3] = -1
                continue
            spend_key = self.keys(scopes[index].name, month)[4]
            await self.client.set(unbulk(spend_key), spent, nx=True, ex=SPEND_TTL_SECONDS)
        raise RuntimeError("month spend could not be seeded")  # pragma: no cover

    def _decision(self, scopes: Sequence[Scope], out: list[object]) -> Decision:
        if int(str(out[0])) == 1:
            remaining = [
                Remaining(
                    s.name,
                    s.requests_per_minute,
                    int(str(out[1 + 2 * i])),
                    s.tokens_per_minute,
                    int(str(out[2 + 2 * i])),
                )
                for i, s in enumerate(scopes)
            ]
            return Decision(True, remaining=remaining)
        scope = scopes[int(str(out[1]))]
        raw = out[2]
        reason = Reason(raw.decode() if isinstance(raw, bytes) else str(raw))
        retry_ms = int(str(out[3]))
        retry: float | None = max(retry_ms, 1) / 1000 if retry_ms >= 0 else None
        limit = {
            Reason.REQUESTS: scope.requests_per_minute,
            Reason.TOKENS: scope.tokens_per_minute,
            Reason.TOO_LARGE: scope.tokens_per_minute,
            Reason.CONCURRENCY: scope.concurrent_requests,
            Reason.BUDGET: scope.monthly_budget_micros,
        }[reason]
        if reason is Reason.BUDGET:
            retry = seconds_to_month_end(time.time())
        return Decision(False, scope.name, reason, retry, limit)

    async def settle(
        self, scopes: Sequence[Scope], reservation_id: str, reserved: Demand, actual: Demand
    ) -> None:
        month = month_of(time.time())
        keys = [k for s in scopes for k in self.keys(s.name, month)]
        delta = actual.cost_micros - reserved.cost_micros
        await self._run(keys, ["s", reservation_id, actual.tokens, delta, len(scopes)])

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        if self._conn is not None:
            await self.client.connection_pool.release(self._conn)
            self._conn = None
        await self.client.aclose()
        await self.client.connection_pool.disconnect()
