"""Batches of training sequences.

Language-model batches are a pure function of ``(seed, batch index)``: the same index
always gives the same rows, whatever happened before. Resuming needs only the index,
and ``N`` data-parallel processes each take their slice of the very batch a single
process would have used.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["LMBatches", "TokenBatches", "padded_blocks"]


class LMBatches:
    """Random contiguous blocks of a token stream for next-token prediction.

    Args:
        tokens: the token stream ``(N,)``.
        block_size: tokens per sequence ``T``.
        seed: base seed of the batch sampler.

    Shape:
        ``batch(...)`` → inputs ``(rows, T)``, targets ``(rows, T)`` (inputs shifted by one).
    """

    def __init__(self, tokens: Tensor, block_size: int, *, seed: int = 0):
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be 1-D, got shape {tuple(tokens.shape)}")
        if len(tokens) < block_size + 1:
            raise ValueError(
                f"the text is too small: {len(tokens)} tokens, but one training block needs "
                f"block_size + 1 = {block_size + 1}; use more text or lower data.block_size"
            )
        self.tokens = tokens.long()
        self.block_size = block_size
        self.seed = seed

    def __len__(self) -> int:
        """Number of distinct block starting points."""
        return len(self.tokens) - self.block_size

    def _rows(self, starts: Tensor) -> tuple[Tensor, Tensor]:
        index = starts.unsqueeze(1) + torch.arange(self.block_size + 1)  # (rows, T + 1)
        window = self.tokens[index]
        return window[:, :-1], window[:, 1:]

    def batch(
        self, index: int, batch_size: int, *, rank: int = 0, world_size: int = 1
    ) -> tuple[Tensor, Tensor]:
        """This process's share of global batch ``index`` (``batch_size`` rows in all)."""
        if batch_size % world_size:
            raise ValueError(
                f"batch_size={batch_size} is not divisible by the {world_size} processes"
            )
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        starts = torch.randint(len(self), (batch_size,), generator=generator)
        per_rank = batch_size // world_size
        return self._rows(starts[rank * per_rank : (rank + 1) * per_rank])

    def sequential(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Consecutive non-overlapping blocks over the whole stream (all but fewer than
        ``block_size`` tokens at the very end), for a full evaluation."""
        starts = torch.arange(0, len(self.tokens) - 1 - self.block_size + 1, self.block_size)
        for chunk in starts.split(batch_size):
            yield self._rows(chunk)


class TokenBatches:
    """Batches of sentence pairs by token count, similar lengths together.

    Pairs are sorted by length and cut into batches whose padded size — rows × the
    longest side in the batch — stays within ``max_tokens``; so a batch holds many short
    sentences or a few long ones, with little padding. The batches are fixed; their
    order is reshuffled every epoch, as a pure function of ``(seed, index)``.

    Args:
        lengths: ``(source_length, target_length)`` of every pair, in tokens.
        max_tokens: padded tokens per batch (a single longer pair gets a batch alone).
        seed: seeds the order of batches in every epoch.
    """

    def __init__(self, lengths: list[tuple[int, int]], max_tokens: int, *, seed: int = 0):
        if not lengths:
            raise ValueError("no sentence pairs to batch")
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i][1], lengths[i][0], i))
        self.batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            size = max(lengths[i])
            if current and max(longest, size) * (len(current) + 1) > max_tokens:
                self.batches.append(current)
                current, longest = [], 0
            current.append(i)
            longest = max(longest, size)
        self.batches.append(current)
        self.seed = seed

    def __len__(self) -> int:
        """Batches per epoch."""
        return len(self.batches)

    def batch(self, index: int, *, rank: int = 0, world_size: int = 1) -> list[int]:
        """Pair indices of global batch ``index`` that belong to process ``rank``."""
        epoch, position = divmod(index, len(self.batches))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        shuffled = torch.randperm(len(self.batches), generator=generator)
        rows = self.batches[int(shuffled[position])]
        return rows[rank::world_size]


def padded_blocks(tokens: Tensor, block_size: int, *, pad_id: int) -> Tensor:
    """A token stream cut into consecutive blocks, the last one filled up with ``pad_id``,
    so that every token is in exactly one block (a masked-language model's evaluation).

    Shape:
        tokens ``(N,)`` → ``(⌈N / T⌉, T)`` with ``T = block_size``.
    """
    rows = -(-len(tokens) // block_size)
    blocks = torch.full((rows * block_size,), pad_id, dtype=torch.long)
    blocks[: len(tokens)] = tokens
    return blocks.view(rows, block_size)
