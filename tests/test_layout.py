"""The layout keeps its promises: short functions in ``server/``, every admin router mounted."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import flightdeck.server.admin as admin_package
from flightdeck.server.admin import ROUTERS

SRC = Path(__file__).resolve().parents[1] / "src" / "flightdeck"


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
