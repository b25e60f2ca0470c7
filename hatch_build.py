"""Hatchling build hook: compiles ``flightdeck.telemetry._speedups`` (the C part of the OTLP
span encoder, ``src/flightdeck/telemetry/_speedups.c``) with setuptools' ``build_ext``.

An editable install (``make``) builds it in place beside its source; a wheel gets it as a
platform wheel. Without a C compiler the build goes on, pure Python (the encoder's Python
path writes the same bytes, about 5x slower: ``bench.gateway.otlp_encode``), and says so.
``FLIGHTDECK_NATIVE=require`` makes a failed compile fail the build (CI, release wheels);
``FLIGHTDECK_NATIVE=off`` skips it.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "flightdeck.telemetry._speedups"
SOURCE = "src/flightdeck/telemetry/_speedups.c"


def compile_extension(root: Path, build: Path) -> Path:
    """Compile the module into ``build``; the path of the built file. Raises what the
    compiler step raises (``distutils`` errors from setuptools) when it fails."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    extension = Extension(MODULE, [str(root / SOURCE)])
    command = build_ext(Distribution({"name": "flightdeck", "ext_modules": [extension]}))
    command.build_lib = str(build / "lib")
    command.build_temp = str(build / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(MODULE))


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled module to wheels (see the module docstring)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        mode = os.environ.get("FLIGHTDECK_NATIVE", "").lower()
        if self.target_name != "wheel" or mode == "off":
            return
        root = Path(self.root)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                built = compile_extension(root, Path(tmp))
            except Exception as error:  # no compiler, no headers: pure Python
                if mode == "require":
                    raise
                print(
                    f"flightdeck: {MODULE} not built ({type(error).__name__}: {error}); "
                    "telemetry's span encoder and attribute loop run in pure Python",
                    file=sys.stderr,
                )
                return
            name = built.name
            if version == "editable":  # the editable install imports from src/
                target = root / "src" / "flightdeck" / "telemetry" / name
                shutil.copyfile(built, target)
            else:  # kept until finalize: the wheel is written after initialize
                self._kept = Path(tempfile.mkdtemp(prefix="flightdeck-native-"))
                kept = self._kept / name
                shutil.copyfile(built, kept)
                build_data["force_include"][str(kept)] = f"flightdeck/telemetry/{name}"
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
        print(f"flightdeck: built {MODULE} ({sysconfig.get_platform()})", file=sys.stderr)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        kept = getattr(self, "_kept", None)
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
