"""Evaluate a next-token model on a token stream."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from attnkit.data.batching import LMBatches
from attnkit.evaluation.metrics import bits_per_char, perplexity

__all__ = ["evaluate_language_model"]


@torch.no_grad()
def evaluate_language_model(
    model: nn.Module,
    batches: LMBatches,
    *,
    device: torch.device | str = "cpu",
    num_chars: int | None = None,
    batch_size: int = 32,
    max_batches: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Mean cross-entropy over the stream, with perplexity and bits per character.

    With ``max_batches`` the first ``max_batches`` random batches (a fixed sample, the
    same at every call) are used; without it, every block of the stream once.
    ``progress`` is told ``(batches done, total)`` after each batch.

    Returns:
        ``{"loss", "perplexity", "bits_per_char", "tokens"}`` (bits per character only
        when ``num_chars`` — the character count of the text behind the stream — is given).
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    if max_batches is None:
        source = batches.sequential(batch_size)
        blocks = (len(batches.tokens) - 1) // batches.block_size  # as sequential() cuts them
        total_batches = -(-blocks // batch_size)
    else:
        source = (batches.batch(i, batch_size) for i in range(max_batches))
        total_batches = max_batches
    for done, (inputs, targets) in enumerate(source, start=1):
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs).logits  # (B, T, V)
        loss = nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"
        )
        total += loss.item()
        count += targets.numel()
        if progress is not None:
            progress(done, total_batches)
    model.train(was_training)
    mean = total / count
    result = {"loss": mean, "perplexity": perplexity(mean), "tokens": count}
    if num_chars is not None:
        result["bits_per_char"] = bits_per_char(
            mean, num_tokens=len(batches.tokens), num_chars=num_chars
        )
    return result
