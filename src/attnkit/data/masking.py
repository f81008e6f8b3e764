"""BERT's masking, for training and scoring a masked-language model (Devlin et al. 2019).

A share ``mask_prob`` (15 %) of the tokens is chosen; of those, 80 % become ``[MASK]``,
10 % a random token and 10 % stay as they are, and the model is asked for the original
token at every chosen position (the random and kept ones stop it from learning that only
``[MASK]`` positions matter). Special tokens (padding, ``[MASK]``, ``<unk>``) and pieces
that are only whitespace (the word tokenizer's spaces and newlines) are never chosen:
the task is recovering a missing *word*.

Whole-word masking (as in BERT's later checkpoints) chooses words instead of tokens:
when a word is chosen, every piece of it is (``hold`` + ``ing``), so the model cannot
recover a piece from the rest of its own word. Which tokens continue a word is read off
the vocabulary (:class:`TokenTable`): a piece that starts with a letter or digit right
after a piece that ends with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnkit.nn.losses import IGNORE_INDEX
from attnkit.protocols import Tokenizer

__all__ = ["TokenTable", "mask_tokens"]


def mask_tokens(
    tokens: Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    mask_prob: float = 0.15,
    special_ids: Sequence[int] = (),
    word_starts: Tensor | None = None,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masking: choose ``mask_prob`` of the tokens that are not in ``special_ids``;
    of those, ``mask_fraction`` (80 %) become ``mask_id``, ``random_fraction`` (10 %) a
    random token (never one of ``special_ids``) and the rest stay; labels keep the
    original ids at the chosen positions and ``-100`` elsewhere.

    Args:
        tokens: token ids.
        mask_id: the ``[MASK]`` id.
        vocab_size: random replacements are drawn from ``[0, vocab_size)``.
        mask_prob: share of the maskable tokens (or words) chosen.
        special_ids: ids never chosen nor drawn as replacements (padding, ``[MASK]``,
            ``<unk>``, whitespace pieces).
        word_starts: whole-word masking: ``True`` where a token begins a word
            (:meth:`TokenTable.word_starts`); a word is chosen with ``mask_prob`` and
            then all its tokens are. ``None``: each token on its own.
        mask_fraction, random_fraction: what becomes of a chosen token; evaluation uses
            ``1.0, 0.0`` so that every scored position is a real gap.
        generator: makes the choice reproducible.

    Shape:
        tokens ``(B, T)``, word_starts ``(B, T)`` → inputs ``(B, T)``, labels ``(B, T)``.
    """
    device = tokens.device

    def uniform() -> Tensor:
        return torch.rand(tokens.shape, generator=generator, device=device)

    special = torch.tensor(list(special_ids), dtype=torch.long, device=device)
    maskable = ~torch.isin(tokens, special)
    chosen = uniform() < mask_prob
    if word_starts is not None:
        # Each token takes the draw of the token that starts its word: the latest start at
        # or before it (a row always starts a word, even one cut by the block boundary).
        starts = word_starts.clone()
        starts[:, 0] = True
        time = torch.arange(tokens.shape[1], device=device).expand_as(tokens)  # (B, T)
        start_of_word = torch.where(starts, time, 0).cummax(dim=1).values  # (B, T)
        chosen = chosen.gather(1, start_of_word)
    chosen &= maskable
    labels = tokens.masked_fill(~chosen, IGNORE_INDEX)
    action = uniform()
    inputs = tokens.masked_fill(chosen & (action < mask_fraction), mask_id)
    ordinary = torch.ones(vocab_size, dtype=torch.bool, device=device)
    ordinary[special[special < vocab_size]] = False
    candidates = ordinary.nonzero().squeeze(1)  # ids a random replacement may take
    draw = torch.randint(len(candidates), tokens.shape, generator=generator, device=device)
    swap = chosen & (action >= mask_fraction) & (action < mask_fraction + random_fraction)
    inputs = torch.where(swap, candidates[draw], inputs)
    return inputs, labels


@dataclass(frozen=True)
class TokenTable:
    """What masking needs to know about each token id of a vocabulary.

    Attributes:
        unmaskable: ids never masked: the special tokens and the pieces that are only
            whitespace.
        begins_inside: ``(V,)`` bool, the piece starts with a letter or digit (it joins
            the word before it if that ends with one).
        ends_inside: ``(V,)`` bool, the piece ends with a letter or digit.
    """

    unmaskable: tuple[int, ...]
    begins_inside: Tensor
    ends_inside: Tensor

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> TokenTable:
        """Read the table off a tokenizer's vocabulary (each id decoded on its own)."""
        specials = {
            getattr(tokenizer, name, None) for name in ("pad_id", "bos_id", "eos_id", "unk_id")
        } | {getattr(tokenizer, "mask_id", None)}
        unmaskable, begins, ends = [], [], []
        for token_id in range(tokenizer.vocab_size):
            text = tokenizer.decode([token_id])
            if token_id in specials or not text.strip():  # specials decode to ""
                unmaskable.append(token_id)
            begins.append(text[:1].isalnum())
            ends.append(text[-1:].isalnum())
        return cls(tuple(unmaskable), torch.tensor(begins), torch.tensor(ends))

    def word_starts(self, tokens: Tensor) -> Tensor:
        """``True`` where a token begins a word: unless it starts with a letter or digit
        right after a token that ends with one (``hold`` + ``ing``).

        Shape:
            tokens ``(B, T)`` → ``(B, T)`` bool.
        """
        begins, ends = self.begins_inside.to(tokens.device), self.ends_inside.to(tokens.device)
        joins = begins[tokens[:, 1:]] & ends[tokens[:, :-1]]  # (B, T - 1)
        first = torch.ones_like(tokens[:, :1], dtype=torch.bool)
        return torch.cat([first, ~joins], dim=1)
