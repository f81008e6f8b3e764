"""Dropout with cheap random masks on the CPU.

Replaces ``torch.nn.functional.dropout`` (the reference, :func:`attnkit.nn.dropout.dropout`)
on a CPU. ``F.dropout`` draws one Bernoulli sample per element, which on a CPU costs far
more than the arithmetic around it. A mask needs far fewer random bits than that:
:func:`dropout` draws 64 random bits at a time and compares each 16-bit quarter with a
threshold, so one generator call decides four elements. The drop probability is rounded
to a multiple of 1/65536 (for ``p = 0.1``: 0.100006), and the kept values are scaled by
``1 / (1 − p_rounded)`` so that the expectation is exactly preserved. Masks come from the
default generator, so ``torch.manual_seed`` and checkpointed RNG state reproduce them.

Tested in ``tests/nn/test_fused_losses_dropout.py`` (expectation, dropped fraction,
gradient, seeding).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["dropout", "keep_mask"]

_LEVELS = 1 << 16  # 16-bit random numbers: p is resolved to 1/65536


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, *, device: torch.device) -> Tensor:
    """Random bool mask, ``True`` (keep) with probability ``1 − p`` (p rounded to 1/65536).

    Shape:
        → ``shape`` bool.
    """
    count = 1
    for size in shape:
        count *= size
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device)
    # The full signed range: random_() alone leaves the top bit of an int64 at zero.
    words.random_(-(1 << 63), (1 << 63) - 1)
    quarters = words.view(torch.int16)[:count]  # uniform over [-32768, 32767]
    threshold = round(p * _LEVELS) - _LEVELS // 2
    return (quarters >= threshold).view(shape)


class _MaskedScale(torch.autograd.Function):
    """``x · keep / (1 − p)``, saving only the bool mask (1 byte per element)."""

    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:  # type: ignore[override]
        keep = keep_mask(x.shape, p, device=x.device)
        scale = _LEVELS / (_LEVELS - round(p * _LEVELS))
        ctx.save_for_backward(keep)
        ctx.scale = scale
        # bool → float, then a float multiply: on a CPU much cheaper than x * bool.
        return x * keep.to(x.dtype).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad * keep.to(grad.dtype).mul_(ctx.scale), None


def dropout(x: Tensor, p: float) -> Tensor:
    """Training-mode dropout with a cheap mask: zero each element with probability ``p``
    (rounded to 1/65536) and scale the rest by ``1 / (1 − p)``. ``0 < p < 1``.

    Shape:
        x ``(*)`` → ``(*)``.
    """
    return _MaskedScale.apply(x, p)
