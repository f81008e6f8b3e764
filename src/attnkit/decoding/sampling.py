"""Text generation for decoder-only language models: sampling and greedy decoding.

The prompt goes through the model once, filling a fresh key/value cache; after that each
step feeds only the newest token, so a step costs O(T) instead of re-reading the whole
sequence. The model is anything with ``new_cache()`` and
``decode_step(tokens, cache, *, padding_mask=None)``
(:class:`~attnkit.protocols.LanguageModelStep`).

:func:`stream` yields each new token as it is produced (for printing as you go);
:func:`generate` collects the same stream into one tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral

import torch
from torch import Tensor

from attnkit.decoding.logits import (
    apply_temperature,
    check_sampling_args,
    top_k_filter,
    top_p_filter,
)
from attnkit.nn.fast.threads import cpu_decoding
from attnkit.protocols import LanguageModelStep

__all__ = ["generate", "next_token", "stream"]


def next_token(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Choose one token per row from next-token logits.

    ``temperature == 0`` takes the argmax (``top_k`` / ``top_p`` cannot change it);
    otherwise temperature, top-k and top-p are applied in that order and a token is
    drawn from the softmax with ``torch.multinomial``.

    Shape:
        logits ``(B, V)`` → ``(B,)`` long.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = apply_temperature(logits.float(), temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)


def stream(
    model: LanguageModelStep,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    padding_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    max_len: int | None = None,
) -> Iterator[Tensor]:
    """Generate like :func:`generate`, yielding each step's new tokens as they come.

    The arguments are checked when ``stream`` is called, before any token is produced.
    The model should be in eval mode (dropout off); gradients are not tracked.

    Shape:
        prompt ``(B, T)`` long → yields up to ``max_new_tokens`` tensors ``(B,)`` long.

    Example:
        >>> for token in stream(model, prompt, max_new_tokens=50, temperature=0.8):
        ...     print(tokenizer.decode(token.tolist()), end="")  # doctest: +SKIP
    """
    _check_generate_args(
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        pad_id=pad_id,
        padding_mask=padding_mask,
        max_len=max_len,
    )
    return _steps(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        fill_id=eos_id if pad_id is None else pad_id,
        padding_mask=padding_mask,
        generator=generator,
    )


def generate(
    model: LanguageModelStep,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    padding_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    max_len: int | None = None,
) -> Tensor:
    """Continue each prompt by up to ``max_new_tokens`` tokens.

    Args:
        model: a :class:`~attnkit.protocols.LanguageModelStep` in eval mode.
        prompt: token ids, at least one per row; left-padded when rows differ in length.
        max_new_tokens: how many tokens to add (``0`` returns the prompt).
        temperature: ``0`` = greedy (argmax); otherwise logits are divided by it.
        top_k: sample only among the ``k`` most likely tokens.
        top_p: sample only from the nucleus holding probability ``p``.
        eos_id: a row that produces it is finished; generation stops early once every
            row is.
        pad_id: what finished rows emit afterwards (default: ``eos_id`` again).
        padding_mask: ``True`` = real prompt token; padding must be on the left, so that
            every row's newest token sits in the last column.
        generator: the random source of ``torch.multinomial`` (seed it to reproduce).
        max_len: the model's position limit (learned positions); refuse up front when
            prompt plus new tokens would not fit.

    Shape:
        prompt ``(B, T)`` long; padding_mask ``(B, T)`` bool → ``(B, T + n)`` long with
        ``n <= max_new_tokens`` (fewer when every row finished early).
    """
    new = stream(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        pad_id=pad_id,
        padding_mask=padding_mask,
        generator=generator,
        max_len=max_len,
    )
    with cpu_decoding(prompt.shape[0], prompt.device):
        tokens = [token.unsqueeze(1) for token in new]
    return torch.cat([prompt, *tokens], dim=1)  # (B, T + n)


@torch.no_grad()
def _steps(
    model: LanguageModelStep,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    eos_id: int | None,
    fill_id: int | None,
    padding_mask: Tensor | None,
    generator: torch.Generator | None,
) -> Iterator[Tensor]:
    """The decoding loop shared by :func:`stream` and :func:`generate` (arguments checked).

    ``torch.no_grad`` wraps each resumption of the generator, so the caller's code
    between two tokens keeps its own grad mode.
    """
    if max_new_tokens == 0:
        return
    cache = model.new_cache()
    # The model runs in inference mode (no version counters or view tracking: ~15 % of
    # a small step); the tokens chosen from its logits outside it are ordinary tensors.
    with torch.inference_mode():
        logits = model.decode_step(prompt, cache, padding_mask=padding_mask)[:, -1]  # (B, V)
    batch = prompt.shape[0]
    finished = torch.zeros(batch, dtype=torch.bool, device=prompt.device)
    # Generated tokens are always real: say so explicitly, so that a model which infers
    # padding from a pad id never hides a sampled token that happens to equal it.
    real = torch.ones(batch, 1, dtype=torch.bool, device=prompt.device)
    for step in range(max_new_tokens):
        token = next_token(
            logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
        )  # (B,)
        if eos_id is not None:
            token = token.masked_fill(finished, fill_id)
            finished |= token == eos_id
        yield token
        if step + 1 == max_new_tokens or bool(finished.all()):
            return
        with torch.inference_mode():
            logits = model.decode_step(token.unsqueeze(1), cache, padding_mask=real)[:, -1]


def _check_generate_args(
    prompt: Tensor,
    *,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    eos_id: int | None,
    pad_id: int | None,
    padding_mask: Tensor | None,
    max_len: int | None,
) -> None:
    """Raise ``ValueError`` with one clear line for anything :func:`generate` cannot do."""
    check_sampling_args(temperature, top_k, top_p)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral):
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    for name, value in (("eos_id", eos_id), ("pad_id", pad_id)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Integral) or value < 0
        ):
            raise ValueError(f"{name} must be a token id >= 0 (or None), got {value!r}")
    if pad_id is not None and eos_id is None:
        raise ValueError("pad_id fills the rows that produced eos_id, so it needs eos_id too")
    if not isinstance(prompt, Tensor) or prompt.dim() != 2:
        shape = tuple(prompt.shape) if isinstance(prompt, Tensor) else type(prompt).__name__
        raise ValueError(f"prompt must be a (B, T) tensor of token ids, got {shape}")
    if prompt.dtype.is_floating_point or prompt.dtype.is_complex or prompt.dtype == torch.bool:
        raise ValueError(f"prompt must hold integer token ids, got dtype {prompt.dtype}")
    batch, length = prompt.shape
    if batch == 0:
        raise ValueError("prompt has no rows (batch size 0)")
    if length == 0:
        raise ValueError(
            "prompt is empty (T = 0): the model needs at least one token to continue; "
            "start from e.g. a newline token"
        )
    if padding_mask is not None:
        if padding_mask.shape != prompt.shape or padding_mask.dtype != torch.bool:
            raise ValueError(
                f"padding_mask must be a bool tensor of the prompt's shape "
                f"{tuple(prompt.shape)}, got {padding_mask.dtype} {tuple(padding_mask.shape)}"
            )
        if not bool(padding_mask[:, -1].all()):
            raise ValueError(
                "padding_mask must pad on the left: every row's last prompt token must be "
                "real (True), since generation continues from the last column"
            )
    if max_len is not None:
        if isinstance(max_len, bool) or not isinstance(max_len, Integral) or max_len < 1:
            raise ValueError(f"max_len must be an integer >= 1 (or None), got {max_len!r}")
        # Positions count real tokens only, so left padding does not use up positions.
        used = length if padding_mask is None else int(padding_mask.sum(-1).max())
        total = used + max_new_tokens
        if total > max_len:
            raise ValueError(
                f"prompt ({used} tokens) + max_new_tokens ({max_new_tokens}) = {total} "
                f"exceeds the model's max_len={max_len} (learned positions); shorten the "
                f"prompt or ask for fewer tokens"
            )
