"""Types of the C hot paths in ``_speedups.c`` (see its header for what each does)."""

from collections.abc import Mapping, Sequence
from typing import Any

def update_attributes(mine: dict[str, Any], attributes: Mapping[str, Any]) -> int: ...
def encode_spans(spans: Sequence[Any]) -> list[bytes | None]: ...
def configure(
    lean_type: type, unset: Any, no_state: Any, context_type: type, kinds: tuple[Any, ...]
) -> None: ...
