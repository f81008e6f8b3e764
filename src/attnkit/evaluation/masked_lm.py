"""Scoring a masked-language model: how often it recovers hidden words, beside two
baselines that see no context.

The held-out text is cut into blocks and a share of its tokens hidden with a fixed seed
(:func:`mask_held_out`), every chosen token replaced by ``[MASK]`` — so the same
positions are scored at every evaluation, of every run with the same text and masking
settings. At those positions: the model's top-1 and top-5 accuracy and its perplexity
(``exp`` of the mean cross-entropy); the word that is most frequent in the training
text, always guessed; and the unigram model of the training text (add-one smoothed),
whose top-1 guess is that same word.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.data.masking import TokenTable, mask_tokens
from attnkit.evaluation.metrics import perplexity
from attnkit.nn.losses import IGNORE_INDEX

__all__ = [
    "EVAL_MASK_SEED",
    "evaluate_masked_lm",
    "mask_held_out",
    "unigram_baselines",
    "unigram_counts",
]

EVAL_MASK_SEED = 0  # the held-out positions hidden at every evaluation


def mask_held_out(
    blocks: Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    table: TokenTable,
    mask_prob: float,
    whole_word: bool,
    seed: int = EVAL_MASK_SEED,
) -> tuple[Tensor, Tensor]:
    """Hide ``mask_prob`` of the held-out tokens (or words), all of them as ``[MASK]``,
    with a fixed seed.

    Shape:
        blocks ``(N, T)`` → inputs ``(N, T)``, labels ``(N, T)`` (``-100`` where not hidden).
    """
    return mask_tokens(
        blocks,
        mask_id=mask_id,
        vocab_size=vocab_size,
        mask_prob=mask_prob,
        special_ids=table.unmaskable,
        word_starts=table.word_starts(blocks) if whole_word else None,
        mask_fraction=1.0,
        random_fraction=0.0,
        generator=torch.Generator().manual_seed(seed),
    )


@torch.no_grad()
def evaluate_masked_lm(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    max_batches: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The model's loss, perplexity and top-1 / top-5 accuracy at the hidden positions.

    ``model`` is a masked-language model: ``model(tokens, labels=...)`` returns its
    summed loss over the labelled positions and its final states, and
    ``model.mlm_head(states)`` the logits (computed here for those positions only).

    Shape:
        inputs ``(N, T)``, labels ``(N, T)`` (``-100`` where not hidden).

    Returns:
        ``{"loss", "perplexity", "accuracy", "accuracy_top5", "masked_tokens"}``.
    """
    was_training = model.training
    model.eval()
    total, top1, top5, count = 0.0, 0, 0, 0
    starts = list(range(0, len(inputs), batch_size))[:max_batches]
    for done, start in enumerate(starts, 1):
        tokens = inputs[start : start + batch_size].to(device)
        targets = labels[start : start + batch_size].to(device)
        out = model(tokens, labels=targets)
        scored = targets != IGNORE_INDEX  # (B, T)
        logits = model.mlm_head(out.hidden[scored])  # (M, V)
        best = logits.topk(min(5, logits.shape[-1]), dim=-1).indices  # (M, 5)
        hits = best == targets[scored].unsqueeze(1)  # (M, 5)
        total += float(out.loss_sum)
        top1 += int(hits[:, 0].sum())
        top5 += int(hits.any(1).sum())
        count += int(scored.sum())
        if progress is not None:
            progress(done, len(starts))
    model.train(was_training)
    mean = total / max(count, 1)
    return {
        "loss": mean,
        "perplexity": perplexity(mean),
        "accuracy": top1 / max(count, 1),
        "accuracy_top5": top5 / max(count, 1),
        "masked_tokens": count,
    }


def unigram_counts(tokens: Tensor, *, vocab_size: int, table: TokenTable) -> Tensor:
    """How often each maskable token occurs in ``tokens`` (0 for the unmaskable ones).

    Shape:
        tokens ``(N,)`` → ``(V,)`` long.
    """
    counts = torch.bincount(tokens, minlength=vocab_size)
    counts[list(table.unmaskable)] = 0
    return counts


def unigram_baselines(counts: Tensor, labels: Tensor, *, table: TokenTable) -> dict[str, Any]:
    """The two context-free baselines at the hidden positions ``labels != -100``.

    ``most_frequent`` always guesses the most frequent training token (its id is
    ``token_id``). ``unigram`` predicts each token with its training frequency, add-one
    smoothed over the maskable vocabulary: its top-1 guess is the most frequent token, its
    top-5 the five most frequent, its perplexity ``exp`` of the mean ``-log p``.

    Shape:
        counts ``(V,)``, labels ``(N, T)``.
    """
    targets = labels[labels != IGNORE_INDEX]  # (M,)
    maskable = torch.ones(len(counts), dtype=torch.bool)
    maskable[list(table.unmaskable)] = False
    smoothed = (counts.double() + 1).masked_fill(~maskable, 0)
    log_probs = smoothed.div(smoothed.sum()).log()  # (V,)
    # Most frequent first; a stable sort breaks ties by the lower id.
    order = torch.argsort(-counts, stable=True)[:5]  # (5,)
    matches = targets.unsqueeze(1) == order.unsqueeze(0)  # (M, 5)
    size = max(len(targets), 1)
    nll = -float(log_probs[targets].sum()) / size
    return {
        "most_frequent": {"token_id": int(order[0]), "accuracy": int(matches[:, 0].sum()) / size},
        "unigram": {
            "accuracy": int(matches[:, 0].sum()) / size,
            "accuracy_top5": int(matches.any(1).sum()) / size,
            "perplexity": math.exp(nll),
        },
    }
