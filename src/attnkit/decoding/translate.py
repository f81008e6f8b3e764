"""Sampling and greedy decoding for encoder–decoder models (translation).

The source is encoded once; the decoder then feeds one token per step and keeps its
key/value cache, so each step costs O(T). The model is anything with ``encode``,
``new_cache`` and ``decode_step`` (:class:`~attnkit.protocols.Seq2SeqStep`). Beam search
lives in :mod:`attnkit.decoding.beam`. :func:`~attnkit.decoding.greedy.greedy_translate`
gives the same tokens as :func:`sample_translate` with ``temperature=0``.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import torch
from torch import Tensor

from attnkit.decoding.logits import check_sampling_args
from attnkit.decoding.sampling import next_token
from attnkit.nn.fast.threads import cpu_decoding
from attnkit.protocols import Seq2SeqStep

__all__ = ["sample_translate"]


@torch.no_grad()
def sample_translate(
    model: Seq2SeqStep,
    src: Tensor,
    *,
    max_len: int,
    bos_id: int,
    eos_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    src_padding_mask: Tensor | None = None,
    pad_id: int | None = None,
) -> Tensor:
    """Translate by drawing each next token from the model (``temperature=0``: greedy).

    Each row starts from ``bos_id``; temperature, top-k and top-p shape the next-token
    distribution as in :func:`~attnkit.decoding.sampling.next_token`. A row is finished
    once it produces ``eos_id``; decoding stops when every row is, or after ``max_len``
    generated tokens (EOS included).

    Args:
        model: a :class:`~attnkit.protocols.Seq2SeqStep` in eval mode.
        src: source token ids.
        max_len: most tokens to generate per row, EOS included.
        bos_id, eos_id: first decoder input; end of a translation.
        temperature: ``0`` = greedy (argmax); otherwise logits are divided by it.
        top_k: sample only among the ``k`` most likely tokens.
        top_p: sample only from the nucleus holding probability ``p``.
        generator: the random source of ``torch.multinomial`` (seed it to reproduce).
        src_padding_mask: ``True`` = real source token; passed to
            ``model.encode(src, src_padding_mask=...)`` when given (otherwise the model
            finds padding itself, e.g. from its ``pad_id``).
        pad_id: when given, never generated (unless equal to ``eos_id``) and written
            after a row's EOS; otherwise finished rows repeat ``eos_id``.

    Shape:
        src ``(B, S)`` long; src_padding_mask ``(B, S)`` bool → ``(B, T)`` long,
        ``T <= max_len``, without BOS.

    Example:
        >>> ids = sample_translate(model, src, max_len=20, bos_id=1, eos_id=2,
        ...                        temperature=0.8, top_p=0.9)  # doctest: +SKIP
    """
    check_sampling_args(temperature, top_k, top_p)
    check_positive_int("max_len", max_len)
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id), ("pad_id", pad_id)):
        if value is not None:
            check_token_id(name, value)
    check_source(src, src_padding_mask)
    cache = model.new_cache()
    batch = src.shape[0]
    fill = eos_id if pad_id is None else pad_id
    token = torch.full((batch,), bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    output = []
    # Inference mode: no version counters or view tracking (~15 % of a small step).
    # Its tensors stay inside; the stacked result below is an ordinary tensor.
    with cpu_decoding(batch, src.device), torch.inference_mode():
        encoded = encode_source(model, src, src_padding_mask)
        for _ in range(max_len):
            logits = model.decode_step(token.unsqueeze(1), encoded, cache)[:, -1]  # (B, V)
            if pad_id is not None and pad_id != eos_id:
                banned = torch.tensor([pad_id], device=src.device)
                logits = logits.index_fill(-1, banned, -math.inf)
            token = next_token(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )  # (B,)
            token = token.masked_fill(finished, fill)
            output.append(token)
            finished |= token == eos_id
            if bool(finished.all()):
                break
    return torch.stack(output, dim=1)  # (B, T)


# ---------------------------------------------------------------- shared with beam search


def encode_source(model: Seq2SeqStep, src: Tensor, src_padding_mask: Tensor | None) -> Any:
    """``model.encode(src)``, handing over ``src_padding_mask`` only when there is one
    (the protocol's ``encode`` takes just the source; models may accept the mask)."""
    if src_padding_mask is None:
        return model.encode(src)
    return model.encode(src, src_padding_mask=src_padding_mask)  # type: ignore[call-arg]


def check_source(src: Tensor, src_padding_mask: Tensor | None) -> None:
    """Raise a one-line ``ValueError`` unless ``src`` is a non-empty ``(B, S)`` id tensor
    and ``src_padding_mask`` (if any) is a matching bool tensor with a real token per row."""
    if not isinstance(src, Tensor) or src.dim() != 2:
        shape = tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__
        raise ValueError(f"src must be a (B, S) tensor of token ids, got {shape}")
    if src.dtype.is_floating_point or src.dtype.is_complex or src.dtype == torch.bool:
        raise ValueError(f"src must hold integer token ids, got dtype {src.dtype}")
    if src.shape[0] == 0:
        raise ValueError("src has no rows (batch size 0)")
    if src.shape[1] == 0:
        raise ValueError("src is empty (S = 0): give every sentence at least one token (e.g. EOS)")
    if src_padding_mask is not None:
        if src_padding_mask.shape != src.shape or src_padding_mask.dtype != torch.bool:
            raise ValueError(
                f"src_padding_mask must be a bool tensor of src's shape {tuple(src.shape)}, "
                f"got {src_padding_mask.dtype} {tuple(src_padding_mask.shape)}"
            )
        check_nonempty_rows(src_padding_mask)


def check_nonempty_rows(real: Tensor) -> None:
    """Raise ``ValueError`` naming the first source row without a real token.

    Shape:
        real ``(B, S)`` bool, ``True`` = real token.
    """
    empty = (~real.any(dim=-1)).nonzero()
    if empty.numel():
        raise ValueError(f"src row {int(empty[0, 0])} is empty (all padding)")


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_token_id(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a token id (an integer ``>= 0``)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a token id >= 0, got {value!r}")
