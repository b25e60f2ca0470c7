"""A static file server on loopback that both tools fetch from (aiohttp, sendfile)."""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    folder, port = sys.argv[1], int(sys.argv[2])
    app = web.Application()
    app.router.add_static("/", folder)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
