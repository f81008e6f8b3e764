"""Greedy decoding: at every step take the most likely next token."""

from __future__ import annotations

from torch import Tensor

from attnkit.decoding.sampling import generate
from attnkit.decoding.translate import sample_translate
from attnkit.protocols import LanguageModelStep, Seq2SeqStep

__all__ = ["greedy_generate", "greedy_translate"]


def greedy_translate(
    model: Seq2SeqStep,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_len: int,
    pad_id: int | None = None,
    src_padding_mask: Tensor | None = None,
) -> Tensor:
    """Greedy decoding for an encoder–decoder model, with the key/value cache: at every
    step the most likely next token (:func:`~attnkit.decoding.translate.sample_translate`
    at temperature 0).

    The source is encoded once; each step feeds only the newest token. Decoding stops
    when every sequence has produced ``eos_id`` or after ``max_len`` tokens; finished
    rows are filled with ``pad_id`` (never generated when given) or else ``eos_id``.

    Shape:
        src ``(B, S)`` → ``(B, T ≤ max_len)`` generated ids (without BOS).
    """
    return sample_translate(
        model,
        src,
        max_len=max_len,
        bos_id=bos_id,
        eos_id=eos_id,
        temperature=0.0,
        pad_id=pad_id,
        src_padding_mask=src_padding_mask,
    )


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
