"""Dropout with cheap random masks on the CPU.

``torch.nn.Dropout`` draws one Bernoulli sample per element; on a CPU that costs ~15×
a GELU per element and took a fifth of a small Transformer's training step. A mask needs
far fewer random bits than that: :func:`dropout` draws 64 random bits at a time and
compares each 16-bit quarter with a threshold, so one generator call decides four
elements. The drop probability is rounded to a multiple of 1/65536 (for ``p = 0.1``:
0.100006), and the kept values are scaled by ``1 / (1 − p_rounded)`` so that the
expectation is exactly preserved. Masks come from the default generator, so
``torch.manual_seed`` and checkpointed RNG state reproduce them. On other devices the
native kernel (already fast there) is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Dropout", "dropout", "keep_mask"]

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
        # bool → float, then a float multiply: much faster on the CPU than x * bool.
        return x * keep.to(x.dtype).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad * keep.to(grad.dtype).mul_(ctx.scale), None


def dropout(x: Tensor, p: float, *, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 − p)``
    (in training; the identity otherwise).

    Shape:
        x ``(*)`` → ``(*)``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    return _MaskedScale.apply(x, p)


class Dropout(nn.Module):
    """Module form of :func:`dropout`, a drop-in for ``torch.nn.Dropout``.

    Args:
        p: probability of zeroing an element, ``0 <= p < 1``.

    Shape:
        input ``(*)`` → output ``(*)``.

    Example:
        >>> drop = Dropout(0.5)
        >>> x = torch.ones(10_000)
        >>> y = drop(x)
        >>> sorted(y.unique().tolist()), abs(y.mean().item() - 1.0) < 0.05
        ([0.0, 2.0], True)
        >>> drop.eval()(x).equal(x)
        True
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
