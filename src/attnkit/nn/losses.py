"""The token loss: cross-entropy over the vocabulary, ignoring padding targets.

Every model family reports its loss through :func:`output_loss`: the summed
cross-entropy of its output projection over the real (non-ignored) labels, and their
count. The trainer divides the sum by the token count of the whole update, so every
token weighs the same however the batch is split. The speed seam computes the same
numbers without holding the ``(B·T, V)`` logits (:mod:`attnkit.nn.fast.losses`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn import fast
from attnkit.nn.fast import losses as fast_losses

__all__ = [
    "IGNORE_INDEX",
    "mean_token_cross_entropy",
    "output_loss",
    "token_cross_entropy",
]

IGNORE_INDEX = fast_losses.IGNORE_INDEX  # -100: targets with this id add nothing


def _check_smoothing(label_smoothing: float) -> None:
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")


def token_cross_entropy(
    logits: Tensor, targets: Tensor, *, label_smoothing: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Summed cross-entropy over the non-ignored targets, and their count.

    Label smoothing spreads ``label_smoothing`` of the target probability evenly over
    the vocabulary (as ``F.cross_entropy`` does); ignored (padding) positions contribute
    nothing either way, and a batch that is all padding gives a loss of 0, not NaN.
    Computed in fp32 whatever the logits' dtype.

    Shape:
        logits ``(*, V)``, targets ``(*)`` → (loss sum ``()``, token count ``()``).
    """
    _check_smoothing(label_smoothing)
    flat_logits, flat_targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    count = (targets != IGNORE_INDEX).sum()
    if fast.enabled() and torch.is_grad_enabled() and logits.requires_grad:
        return fast_losses.token_cross_entropy(flat_logits, flat_targets, label_smoothing), count
    loss_sum = F.cross_entropy(
        flat_logits.to(torch.promote_types(logits.dtype, torch.float32)),
        flat_targets,
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
        reduction="sum",
    )
    return loss_sum, count


def output_loss(
    hidden: Tensor,
    head: Callable[[Tensor], Tensor],
    labels: Tensor,
    *,
    label_smoothing: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """The loss contract of every model family: :func:`token_cross_entropy` of
    ``head(hidden)`` (the output projection of the final states) against ``labels``.

    Shape:
        hidden ``(*, D)``, labels ``(*)`` → (loss sum ``()``, token count ``()``).
    """
    fused = isinstance(head, nn.Linear) and torch.is_grad_enabled()
    if fast.enabled() and fused:
        _check_smoothing(label_smoothing)
        flat_hidden, flat_labels = hidden.reshape(-1, hidden.shape[-1]), labels.reshape(-1)
        loss_sum = fast_losses.linear_cross_entropy(flat_hidden, head, flat_labels, label_smoothing)
        return loss_sum, (labels != IGNORE_INDEX).sum()
    return token_cross_entropy(head(hidden), labels, label_smoothing=label_smoothing)


def mean_token_cross_entropy(
    logits: Tensor, targets: Tensor, *, label_smoothing: float = 0.0
) -> Tensor:
    """Mean cross-entropy per non-ignored target (0, not NaN, when all are ignored).

    Shape:
        logits ``(*, V)``, targets ``(*)`` → ``()``.
    """
    loss_sum, count = token_cross_entropy(logits, targets, label_smoothing=label_smoothing)
    return loss_sum / count.clamp_min(1)
