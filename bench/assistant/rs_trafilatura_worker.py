"""Runs rs-trafilatura for ``bench.assistant.extraction`` in a Python 3.12 process of its own
(rs-trafilatura ships a CPython 3.12 wheel only; this project runs on 3.11).

Protocol: one JSON object per line on stdin, ``{"html": str}``; one per line on stdout,
``{"text": str, "seconds": float}`` (the extraction alone, without the pipe) or
``{"error": str, "seconds": float}``. Uses nothing but the standard library and rs-trafilatura.
"""

import json
import sys
import time

import rs_trafilatura


def main() -> None:
    for line in sys.stdin:
        html = json.loads(line)["html"]
        start = time.perf_counter()
        try:
            text = rs_trafilatura.extract(html, include_tables=True).main_content or ""
            reply = {"text": text}
        except Exception as exc:  # a crash is a miss, as in the benchmark
            reply = {"error": type(exc).__name__}
        reply["seconds"] = time.perf_counter() - start
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
