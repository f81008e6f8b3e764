"""Dropout: zero each element with probability ``p`` while training, and scale the rest
by ``1 / (1 − p)`` so that the expected value is unchanged (the identity in eval).

The reference is ``torch.nn.functional.dropout``; on a CPU the speed seam draws the
random mask more cheaply (:mod:`attnkit.nn.fast.dropout`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn import fast
from attnkit.nn.fast import dropout as fast_dropout

__all__ = ["Dropout", "dropout"]


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
    if fast.enabled() and x.device.type == "cpu":
        return fast_dropout.dropout(x, p)
    return F.dropout(x, p, training=True)


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
