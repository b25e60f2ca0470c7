"""Optional test dependencies (the dev extra): skipped when absent, failed when CI=true."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def importorfail(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{name} is missing on CI: pip install -e '.[dev]'") from None
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
