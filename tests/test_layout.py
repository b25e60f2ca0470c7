"""The layout keeps its promises: the map in docs/architecture.md names only files that exist and
places every package in a layer; public classes say what they are for; short functions in
``server/``; every admin router mounted."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import flightdeck.server.admin as admin_package
from flightdeck.server.admin import ROUTERS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "flightdeck"
MAP = ROOT / "docs" / "architecture.md"
FILE_NAME = re.compile(r"[\w./-]*\w\.(?:py|lua|md|toml|json|html|js|yaml|conf)\b")
SEARCHED = ("src", "bench", "tests", "deploy", "docs", "examples")


def named_files(text: str) -> set[str]:
    """File paths and names a document mentions (``calls/router.py``, ``limits.lua``)."""
    return set(FILE_NAME.findall(text))


def exists(name: str) -> bool:
    """A path relative to the repository, src/flightdeck or docs, or the end of a path under
    src, bench, tests, deploy, docs or examples (``limits.lua``, ``versions/0001_x.py``)."""
    if any((base / name).exists() for base in (ROOT, SRC, ROOT / "docs")):
        return True
    return any(next((ROOT / top).rglob(name), None) is not None for top in SEARCHED)


def test_every_file_named_in_the_architecture_map_exists() -> None:
    missing = sorted(n for n in named_files(MAP.read_text(encoding="utf-8")) if not exists(n))
    assert missing == []


def test_the_check_finds_a_file_that_does_not_exist() -> None:
    names = named_files("the router (gateway/router.py) and acquire.lua, calls/router.py")
    assert sorted(n for n in names if not exists(n)) == ["acquire.lua", "gateway/router.py"]


def test_every_package_is_in_a_layer_of_the_contract_and_the_map() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = config["tool"]["importlinter"]["contracts"]
    layered = {name.strip() for layer in contract["layers"] for name in re.split("[|:]", layer)}
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert packages - layered == set()
    text = MAP.read_text(encoding="utf-8")
    layers_block = text.split("## Layers (the contracts)", 1)[1].split("## ", 1)[0]
    for layer in contract["layers"]:
        assert layer in layers_block


def test_every_public_class_has_a_docstring() -> None:
    undocumented = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            public = isinstance(node, ast.ClassDef) and not node.name.startswith("_")
            if public and ast.get_docstring(node) is None:
                undocumented.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert undocumented == []


def test_no_function_in_server_is_over_60_lines() -> None:
    long = []
    for path in sorted((SRC / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_every_admin_resource_router_is_mounted() -> None:
    modules = [
        importlib.import_module(f"{admin_package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(admin_package.__path__)
    ]
    routers = {m.__name__: m.router for m in modules if hasattr(m, "router")}
    assert len(routers) >= 9
    missing = [name for name, router in routers.items() if router not in ROUTERS]
    assert missing == []
