"""Logits processors: small pure functions that reshape a next-token distribution.

Sampling applies them in the usual order — temperature, then top-k, then top-p — to the
logits of the last position, ``(B, V)``, and samples from the softmax of the result.
Filtered-out tokens get ``-inf``, so their probability is exactly zero. None of these
functions changes its input in place.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from torch import Tensor

__all__ = ["apply_temperature", "check_sampling_args", "top_k_filter", "top_p_filter"]

# Cumulative probabilities within this much of ``p`` count as reaching it: a float32
# softmax and cumsum are off by a few ulps, and 0.5 + 0.25 must reach p = 0.75.
_TOP_P_SLACK = 1e-6


def check_sampling_args(
    temperature: float, top_k: int | None = None, top_p: float | None = None
) -> None:
    """Raise ``ValueError`` (one line, naming the argument) if a sampling setting is invalid.

    Args:
        temperature: ``>= 0`` and finite; ``0`` means greedy (argmax).
        top_k: ``None`` (off) or an integer ``>= 1``.
        top_p: ``None`` (off) or a float in ``(0, 1]``.

    Example:
        >>> check_sampling_args(0.8, top_k=40, top_p=0.95)
        >>> check_sampling_args(-1.0)
        Traceback (most recent call last):
        ...
        ValueError: temperature must be >= 0 (0 = greedy), got -1.0
    """
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if not math.isfinite(temperature):
        raise ValueError(f"temperature must be finite, got {temperature}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1
    ):
        raise ValueError(f"top_k must be an integer >= 1 (or None to disable), got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, Real) or not 0 < top_p <= 1
    ):
        raise ValueError(f"top_p must be in (0, 1] (or None to disable), got {top_p!r}")


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """Divide the logits by ``temperature``: below 1 sharpens, above 1 flattens.

    ``temperature`` must be ``> 0``; greedy decoding (temperature 0) is the callers'
    business (take the argmax instead of sampling).

    Shape:
        logits ``(B, V)`` (any shape works) → same shape.

    Example:
        >>> apply_temperature(torch.tensor([[2.0, 1.0]]), 0.5)
        tensor([[4., 2.]])
    """
    if not temperature > 0:
        raise ValueError(f"apply_temperature needs temperature > 0, got {temperature}")
    return logits / temperature


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row, set the others to ``-inf``.

    Exactly ``k`` survive per row; ties at the boundary are broken by ``torch.topk``.
    ``k >= V`` keeps everything.

    Shape:
        logits ``(B, V)`` → ``(B, V)``.

    Example:
        >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
        tensor([[-inf, 3., 2., -inf]])
    """
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"top_k must be an integer >= 1, got {k!r}")
    if k >= logits.shape[-1]:
        return logits
    index = logits.topk(k, dim=-1).indices  # (B, k)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, index, True)  # (B, V)
    return logits.masked_fill(~keep, -math.inf)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose total
    probability reaches ``p``; set the others to ``-inf``.

    Tokens are taken in order of decreasing probability until the running total reaches
    ``p`` (within a float-rounding slack of 1e-6), so the most likely token always
    survives. Among equally likely tokens the lower id comes first, so a tie at the
    boundary keeps only as many as needed. ``p = 1`` keeps everything.

    Shape:
        logits ``(B, V)`` → ``(B, V)``.

    Example:
        >>> logits = torch.tensor([[0.5, 0.25, 0.125, 0.125]]).log()
        >>> top_p_filter(logits, 0.7).isfinite()
        tensor([[ True,  True, False, False]])
    """
    if isinstance(p, bool) or not isinstance(p, Real) or not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    if p >= 1:
        return logits
    sorted_logits, order = logits.float().sort(dim=-1, descending=True, stable=True)  # (B, V)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # (B, V) mass of the more likely tokens
    keep_sorted = before < p - _TOP_P_SLACK
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)  # back to id order
    return logits.masked_fill(~keep, -math.inf)
