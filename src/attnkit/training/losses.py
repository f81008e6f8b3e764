"""The loss of a training batch: one contract for every task and model family.

A task's batch holds the model's keyword inputs and its ``labels``; the model reports
the summed cross-entropy over the real labels and their count
(:class:`~attnkit.nn.outputs.ModelOutput`'s ``loss_sum`` and ``token_count``, computed by
:func:`attnkit.nn.losses.output_loss`). The trainer adds the sums and counts of an
update's micro-batches (and processes) and divides once.
"""

from __future__ import annotations

from torch import Tensor, nn

from attnkit.nn.losses import IGNORE_INDEX, token_cross_entropy

__all__ = ["IGNORE_INDEX", "batch_loss", "token_cross_entropy"]


def batch_loss(
    model: nn.Module, batch: dict[str, Tensor], *, label_smoothing: float
) -> tuple[Tensor, Tensor]:
    """Summed loss of a micro-batch and its count of real labels.

    ``batch`` maps the model's forward arguments (``tokens``; ``src`` and ``tgt``;
    ``images`` …) and ``labels`` to tensors.
    """
    out = model(**batch, label_smoothing=label_smoothing)
    return out.loss_sum, out.token_count
