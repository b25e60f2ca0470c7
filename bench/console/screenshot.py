"""The console's screenshot in docs/operations.md: a real server, fake upstreams, a mixed
workload of two tenants for a few minutes, then Chromium at the console.

    python -m bench.console.screenshot --seconds 300 --out docs/img/console.png

acme chats with gpt-4o (a third of the calls streamed) and calls a flaky model whose upstream
fails a third of the time (its circuit opens and closes), and for good in the last 20
seconds; globex chats with a slower llama,
which gets slower halfway through, against a 30 requests/minute limit. 40% of the calls are
one of 12 frequently asked questions at temperature 0, which the response cache answers.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import openai

from flightdeck.core.settings import load_settings
from flightdeck.testing import Behaviour, FakeUpstream
from flightdeck.testing.server import ServerThread

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def admin(server: ServerThread, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def caller(
    server: ServerThread, key: str, model: str, rate: float, until: float, seed: int
) -> None:
    """``rate`` requests a second (Poisson arrivals) until ``until``; a third streamed."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    rng = random.Random(seed)
    while time.monotonic() < until:
        time.sleep(rng.expovariate(rate))
        words = " ".join(
            rng.choice(["route", "cache", "token", "otter", "plane"]) for _ in range(8)
        )
        extra: dict[str, Any] = {"max_tokens": rng.randint(20, 200)}
        if rng.random() < 0.4:  # a frequently asked question, deterministic: the cache serves it
            words, extra = f"FAQ {rng.randint(1, 12)}", {"max_tokens": 50, "temperature": 0}
        messages: Any = [{"role": "user", "content": words}]
        try:
            if rng.random() < 1 / 3:
                for _ in client.chat.completions.create(
                    model=model, messages=messages, stream=True, **extra
                ):
                    pass
            else:
                client.chat.completions.create(model=model, messages=messages, **extra)
        except openai.APIError:
            pass  # errors and rejections are part of the picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs/img/console.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fd-console-"))
    fast_b = Behaviour(latency=0.03, chunk_delay=0.02, stream_chunks=8)
    slow_b = Behaviour(latency=0.25, chunk_delay=0.05, stream_chunks=8)
    flaky_b = Behaviour(latency=0.05, failure_rate=0.35, fail_status=503)
    with (
        FakeUpstream(fast_b) as fast,
        FakeUpstream(slow_b) as slow,
        FakeUpstream(flaky_b, seed=3) as flaky,
    ):
        settings = load_settings(
            None,
            {},
            defaults={
                "home": str(home),
                "server": {"port": 0},
                "models": [
                    {"name": "gpt-4o", "base_url": fast.base_url, "id": "gpt-4o-east"},
                    {"name": "llama", "base_url": slow.base_url, "id": "llama-vllm"},
                    {"name": "flaky", "base_url": flaky.base_url, "id": "flaky-1"},
                ],
                "router": {"max_retries": 0, "cooldown_seconds": 20},
                "ledger": {"flush_interval_seconds": 0.2},
                "limits": {
                    "prices": {
                        "gpt-4o": {"input": 2.5, "output": 10.0},
                        "llama": {"input": 0.6, "output": 0.6},
                        "flaky": {"input": 1.0, "output": 2.0},
                    }
                },
                "console": {"trace_url": "http://jaeger.internal:16686/trace/{trace_id}"},
                "telemetry": {"tracing": True},
            },
        )
        with ServerThread(settings) as server:
            keys = {}
            for tenant in ("acme", "globex"):
                admin(server, "POST", "/admin/tenants", {"name": tenant})
                made = admin(server, "POST", "/admin/keys", {"name": "app", "tenant": tenant})
                keys[tenant] = made["key"]
            admin(server, "PUT", "/admin/budgets", {"tenant": "globex", "requests_per_minute": 30})
            until = time.monotonic() + args.seconds
            plan = [
                (keys["acme"], "gpt-4o", 1.5, 1),
                (keys["acme"], "flaky", 0.3, 2),
                (keys["globex"], "llama", 0.7, 3),
            ]
            threads = [
                threading.Thread(target=caller, args=(server, k, m, r, until, s), daemon=True)
                for k, m, r, s in plan
            ]
            for t in threads:
                t.start()
            time.sleep(args.seconds / 2)
            slow_b.latency = 0.6  # llama slows down halfway
            time.sleep(max(0.0, args.seconds / 2 - 20))
            flaky_b.failure_rate = 1.0  # flaky's upstream goes down: its circuit opens
            for t in threads:
                t.join()
            time.sleep(1)
            shoot(server, args.chromium, args.out)
    print(f"wrote {args.out}")


def shoot(
    server: ServerThread,
    chromium: str,
    out: Path,
    *,
    key: str | None = None,
    ready: str = "updates",
    section: str | None = None,
) -> None:
    """A PNG of ``/console`` connected with ``key`` (the server's own by default), once the
    page's ``ready`` counter has counted one update: the whole page, or only ``section``
    (a CSS selector)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server.url + "/console?range=15m")
        page.fill("#api-key", key or server.api_key)
        page.click("#connect")
        for _ in range(300):
            if page.evaluate(f"window.flightdeckConsole.{ready} >= 1"):
                break
            page.wait_for_timeout(100)
        page.wait_for_timeout(500)
        out.parent.mkdir(parents=True, exist_ok=True)
        if section is None:
            page.screenshot(path=str(out), full_page=True)
        else:
            page.locator(section).screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    main()
