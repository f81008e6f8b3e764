"""Token-level cross-entropy that ignores padding targets."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["IGNORE_INDEX", "mean_token_cross_entropy", "token_cross_entropy"]

IGNORE_INDEX = -100  # targets with this id (padding, unmasked positions) add nothing


def token_cross_entropy(
    logits: Tensor, targets: Tensor, *, label_smoothing: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Summed cross-entropy over the non-ignored targets, and their count.

    Dividing the sum by the token count of the *whole* update (all micro-batches, all
    processes) gives each token the same weight, so gradient accumulation reproduces the
    gradient of one big batch even when micro-batches hold different numbers of real
    tokens. Label smoothing spreads ``label_smoothing`` of the target probability evenly
    over the vocabulary; ignored (padding) positions contribute nothing either way, and
    a batch that is all padding gives a loss of 0, not NaN.

    Shape:
        logits ``(B, T, V)``, targets ``(B, T)`` → (loss sum ``()``, token count ``()``).
    """
    loss_sum = F.cross_entropy(
        logits.flatten(0, 1).float(),
        targets.flatten(),
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
        reduction="sum",
    )
    return loss_sum, (targets != IGNORE_INDEX).sum()


def mean_token_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy per non-ignored target (0, not NaN, when all are ignored).

    Shape:
        logits ``(B, T, V)``, targets ``(B, T)`` → ``()``.
    """
    loss_sum, count = token_cross_entropy(logits, targets)
    return loss_sum / count.clamp_min(1)
