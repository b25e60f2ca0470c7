"""Every fenced code block in README.md and docs/*.md runs, or says why it cannot.

Rules for a block (docs/README.md repeats them for writers):

- ```` ```bash ````: runs with ``bash -euo pipefail`` in a workspace shared by all blocks, in
  file order (README.md first, then docs/ alphabetically), so a block may use what an earlier
  one made. A server with the embedded local models runs there; ``localhost:8080`` and
  ``127.0.0.1:8080`` are rewritten to its address; ``curl`` fails on an HTTP error; ``flightdeck``
  and ``.venv/bin/flightdeck`` are this checkout's CLI on the same store. The workspace holds
  ``./photos`` (captioned images) and tenant ``acme``. Environment: ``FLIGHTDECK_API_KEY`` and
  ``FD_PLATFORM_KEY`` (a platform admin key), ``FD_KEY`` (an admin key of acme),
  ``FLIGHTDECK_URL``. A line ``export NAME=...`` whose value ends in ``...`` is a placeholder
  and is left out.
- ```` ```python ````: runs in a fresh interpreter in the same workspace and environment.
- ```` ```toml ````: loaded as a configuration file (tests/test_docs.py).
- ```` ```json ````: must parse.
- ```` ```text ````: output, a diagram, a layout or a synopsis; not run.
- Any other language, or none: the test fails; pick one of the above.
- A block that cannot run here (Docker, a cluster, weights that are not shipped) has
  ``<!-- not-run: why -->`` on the line before its fence. They are counted: at most
  ``MAX_NOT_RUN``; lower it when you make one run, never raise it without the lead.
  docs/README.md says the same for writers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flightdeck.auth.keys import Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import default_local_models, load_settings
from flightdeck.store.database import Store
from flightdeck.testing.server import ServerThread, create_key

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_NOT_RUN = 12
RUN = {"bash", "python"}
CHECKED = {"toml", "json", "text"}
FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->\s*$")
PLACEHOLDER = re.compile(r"^\s*export \w+=\S*\.\.\.(\s.*)?$")
# Captions of ./photos: README's tour and docs/search.md search for some of them.
CAPTIONS = [
    "a red sunset over the sea",
    "a dog running on a sandy beach",
    "pine trees",
    "a cat sleeping on a sofa",
]


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def find_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NOT_RUN.search(before)
        line = text[: match.start()].count("\n") + 1
        doc = str(path.relative_to(ROOT))
        found.append(Block(doc, line, match.group(1), match.group(2), marker and marker.group(1)))
    return found


BLOCKS = [block for path in DOCS for block in find_blocks(path)]


def test_every_block_has_a_known_language() -> None:
    unknown = [f"{b.id} ```{b.lang}" for b in BLOCKS if b.lang not in RUN | CHECKED]
    assert unknown == [], f"tag these blocks bash, python, toml, json or text: {unknown}"


def test_not_run_markers_stay_rare() -> None:
    marked = [f"{b.id}: {b.not_run}" for b in BLOCKS if b.not_run]
    assert len(marked) <= MAX_NOT_RUN, "\n".join(marked)
    runnable = [b for b in BLOCKS if b.lang in RUN]
    assert len(marked) <= len(runnable) / 2


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "json"], ids=lambda b: b.id)
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.code)


@dataclass
class Workspace:
    path: Path
    env: dict[str, str]
    address: str


def _photos(folder: Path) -> None:
    folder.mkdir()
    for i, caption in enumerate(CAPTIONS):
        pixels = np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.jpg")
        (folder / f"img{i}.txt").write_text(caption)


def _shims(bin_dir: Path) -> None:
    """``flightdeck`` (also as ``.venv/bin/flightdeck``) and a ``curl`` that fails on errors."""
    bin_dir.mkdir(parents=True)
    cli = bin_dir / "flightdeck"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m flightdeck "$@"\n')
    curl = bin_dir / "curl"
    curl.write_text(f'#!/bin/sh\nexec "{shutil.which("curl")}" --fail-with-body "$@"\n')
    for tool in (cli, curl):
        tool.chmod(0o755)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    path = tmp_path_factory.mktemp("docs")
    _photos(path / "photos")
    _shims(path / ".venv" / "bin")
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(path / ".flightdeck"),
            "server": {"port": 0},
            "auth": {"key_cache_seconds": 0},
            "search": {"manifest_check_seconds": 0},
            "models": default_local_models(),
        },
    )

    async def acme_key() -> str:
        store = Store(settings.store_url)
        try:
            await store.migrate()
            await TenantStore(store).create("acme")
        finally:
            await store.close()
        return await create_key(settings, Role.ADMIN, "acme")

    key = asyncio.run(acme_key())
    with ServerThread(settings) as server:
        env = {
            **os.environ,
            "PATH": f"{path / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "FLIGHTDECK_URL": server.url,
            "FLIGHTDECK_API_KEY": server.api_key,
            "FD_PLATFORM_KEY": server.api_key,
            "FD_KEY": key,
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        yield Workspace(path, env, server.url.removeprefix("http://"))


def runnable(block: Block, address: str) -> list[str]:
    """The block as it runs: the test server's address, placeholders left out."""
    code = block.code.replace("localhost:8080", address).replace("127.0.0.1:8080", address)
    if block.lang == "python":
        return [sys.executable, "-c", code]
    lines = [line for line in code.splitlines() if not PLACEHOLDER.match(line)]
    return ["bash", "-euo", "pipefail", "-c", "\n".join(lines)]


def test_every_runnable_block_runs(workspace: Workspace) -> None:
    """One test over all blocks, in order (later blocks use what earlier ones made)."""
    for block in BLOCKS:
        if block.lang not in RUN or block.not_run:
            continue
        done = subprocess.run(
            runnable(block, workspace.address),
            cwd=workspace.path,
            env=workspace.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{block.id} failed:\n{done.stdout}\n{done.stderr}"
