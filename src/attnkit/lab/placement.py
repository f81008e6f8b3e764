"""Where the lab's experiments run: one device for every model and batch of a claim.

``attnkit lab`` picks it with ``--device`` (default ``auto``: a GPU when there is one,
so the full designs run faster there); :func:`~attnkit.lab.run_claim` sets it for the
claim with :func:`running_on`. Data is drawn on the CPU from seeded CPU generators —
the same strings on every device — and moved with :func:`place`; what a claim reports
(accuracies, distances, curves) comes back as plain numbers. Timings call
:func:`synchronize` first, since GPU work is queued, not done, when Python moves on.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import Tensor, nn

__all__ = ["device", "place", "running_on", "synchronize"]

_device: contextvars.ContextVar[torch.device | None] = contextvars.ContextVar(
    "attnkit_lab_device", default=None
)


def device() -> torch.device:
    """The device the current claim runs on (the CPU unless :func:`running_on` says)."""
    return _device.get() or torch.device("cpu")


@contextlib.contextmanager
def running_on(where: torch.device) -> Iterator[torch.device]:
    """Run the claims inside the ``with`` block on ``where``."""
    token = _device.set(torch.device(where))
    try:
        yield torch.device(where)
    finally:
        _device.reset(token)


def place(batch: dict[str, Tensor], model: nn.Module | None = None) -> dict[str, Tensor]:
    """``batch`` on ``model``'s device (or the claim's, for no model or one without
    parameters).

    Shape:
        every tensor keeps its shape.
    """
    first = None if model is None else next(model.parameters(), None)
    where = device() if first is None else first.device
    return {key: value.to(where) for key, value in batch.items()}


def synchronize() -> None:
    """Wait until the claim's device has finished its queued work (no-op on a CPU)."""
    if device().type == "cuda":
        torch.cuda.synchronize(device())
