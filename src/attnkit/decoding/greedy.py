"""Greedy decoding: at every step take the most likely next token."""

from __future__ import annotations

import torch
from torch import Tensor

from attnkit.decoding.sampling import generate
from attnkit.protocols import LanguageModelStep, Seq2SeqStep

__all__ = ["greedy_generate", "greedy_translate"]


@torch.no_grad()
def greedy_translate(
    model: Seq2SeqStep,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_len: int,
) -> Tensor:
    """Greedy decoding for an encoder–decoder model, with the key/value cache.

    The source is encoded once; each step feeds only the newest token. Decoding stops
    when every sequence has produced ``eos_id`` or after ``max_len`` tokens; finished
    sequences are padded with ``eos_id``.

    Shape:
        src ``(B, S)`` → ``(B, T ≤ max_len)`` generated ids (without BOS).
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    encoded = model.encode(src)
    cache = model.new_cache()
    batch = src.shape[0]
    token = torch.full((batch, 1), bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    output = []
    for _ in range(max_len):
        logits = model.decode_step(token, encoded, cache)  # (B, 1, V)
        token = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)
        token = token.masked_fill(finished.unsqueeze(1), eos_id)
        output.append(token)
        finished |= token.squeeze(1) == eos_id
        if bool(finished.all()):
            break
    return torch.cat(output, dim=1)


def greedy_generate(
    model: LanguageModelStep,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    eos_id: int | None = None,
    pad_id: int | None = None,
    padding_mask: Tensor | None = None,
    max_len: int | None = None,
) -> Tensor:
    """Greedy continuation for a decoder-only model: :func:`~attnkit.decoding.sampling.generate`
    with ``temperature=0`` (same cache, EOS and ``max_len`` handling).

    Shape:
        prompt ``(B, T)`` long; padding_mask ``(B, T)`` bool (left padding) →
        ``(B, T + n)`` long, ``n <= max_new_tokens``.
    """
    return generate(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=0.0,
        eos_id=eos_id,
        pad_id=pad_id,
        padding_mask=padding_mask,
        max_len=max_len,
    )
