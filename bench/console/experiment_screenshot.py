"""The console's experiments view in docs/operations.md: a real server, two fake upstreams, an
experiment on a model group with users as units, traffic and thumbs for a few minutes, then
Chromium at the console's experiments section.

    python -m bench.console.experiment_screenshot --seconds 180 \
        --out docs/img/console-experiments.png

acme's support app asks for ``gpt-4o``; the experiment ``mini-for-support`` sends half of its
500 users to ``gpt-4o-mini`` (cheaper, a little faster). Users give a thumb on about half of
the answers: up 75% of the time for gpt-4o and 68% for gpt-4o-mini.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import openai

from bench.console.screenshot import admin, shoot
from flightdeck.core.settings import load_settings
from flightdeck.testing import Behaviour, FakeUpstream
from flightdeck.testing.server import ServerThread

EXPERIMENT = {
    "key": "mini-for-support",
    "description": "Can the support app answer with gpt-4o-mini?",
    "unit": "user",
    "target": {"kind": "model_group", "name": "gpt-4o"},
    "variants": [
        {"name": "control", "value": "gpt-4o"},
        {"name": "mini", "value": "gpt-4o-mini"},
    ],
    "metrics": ["thumbs"],
}
THUMBS_UP = {"control": 0.75, "mini": 0.68}


def caller(server: ServerThread, key: str, rate: float, until: float, seed: int) -> None:
    """``rate`` chats a second (Poisson arrivals) from random users until ``until``."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    rng = random.Random(seed)
    while time.monotonic() < until:
        time.sleep(rng.expovariate(rate))
        words = " ".join(rng.choice(["refund", "order", "login", "invoice"]) for _ in range(6))
        messages: Any = [{"role": "user", "content": words}]
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=messages,
            max_tokens=rng.randint(20, 200),
            user=f"user-{rng.randrange(500)}",
        )
        variant = raw.headers["x-flightdeck-experiment"].split("=")[1]
        if rng.random() < 0.5:
            up = rng.random() < THUMBS_UP[variant]
            body = {"response_id": raw.parse().id, "thumbs": "up" if up else "down"}
            client.post("/feedback", body=body, cast_to=object)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--out", type=Path, default=Path("docs/img/console-experiments.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fd-console-"))
    with (
        FakeUpstream(Behaviour(latency=0.06)) as big,
        FakeUpstream(Behaviour(latency=0.04)) as mini,
    ):
        settings = load_settings(
            None,
            {},
            defaults={
                "home": str(home),
                "server": {"port": 0},
                "models": [
                    {"name": "gpt-4o", "base_url": big.base_url, "id": "gpt-4o-east"},
                    {"name": "gpt-4o-mini", "base_url": mini.base_url, "id": "gpt-4o-mini-east"},
                ],
                "ledger": {"flush_interval_seconds": 0.2},
                "limits": {
                    "prices": {
                        "gpt-4o": {"input": 2.5, "output": 10.0},
                        "gpt-4o-mini": {"input": 0.15, "output": 0.6},
                    }
                },
            },
        )
        with ServerThread(settings) as server:
            admin(server, "POST", "/admin/tenants", {"name": "acme"})
            made = admin(
                server, "POST", "/admin/keys", {"name": "ops", "tenant": "acme", "role": "admin"}
            )
            key = made["key"]
            created = admin(server, "POST", "/admin/experiments", EXPERIMENT | {"tenant": "acme"})
            admin(server, "POST", f"/admin/experiments/{created['id']}/start?tenant=acme")
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=caller, args=(server, key, 2.0, until, s), daemon=True)
                for s in range(3)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1)
            shoot(
                server,
                args.chromium,
                args.out,
                key=key,
                ready="experimentUpdates",
                section="#experiments-section",
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
