"""The torch device a local encoder runs on."""

from __future__ import annotations

from flightdeck.encoders.errors import ModelLoadError


def choose_device(requested: str | None) -> str:
    """The torch device the models run on: ``requested``, checked, or cuda when present.
    Raises ModelLoadError for a name torch does not know or a CUDA device it cannot see."""
    import torch

    if not requested:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(requested).type
    except RuntimeError:
        raise ModelLoadError(
            f"--device {requested!r} is not a torch device (cpu, cuda, cuda:1, ...)"
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {requested}: torch sees no CUDA device here")
    return requested
