"""Language-model metrics derived from the mean cross-entropy (in nats per token)."""

from __future__ import annotations

import math

__all__ = ["bits_per_char", "perplexity"]


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely next tokens."""
    return math.exp(min(loss, 700.0))  # exp overflows past ~709


def bits_per_char(loss: float, *, num_tokens: int, num_chars: int) -> float:
    """Bits per character of the text: ``loss · tokens / chars / ln 2``.

    For a character tokenizer ``tokens == chars`` and this is ``loss / ln 2``; for
    subword tokenizers it makes models with different vocabularies comparable.
    """
    if num_chars <= 0:
        raise ValueError("num_chars must be positive")
    return loss * num_tokens / num_chars / math.log(2)
