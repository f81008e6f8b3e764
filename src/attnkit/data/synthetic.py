"""Synthetic parallel tasks: tiny, instant, and with a known right answer — for smoke
runs, tests and experiments."""

from __future__ import annotations

import random

__all__ = ["SYNTHETIC_TASKS", "make_reverse_pairs"]

SYNTHETIC_TASKS = ("reverse",)


def make_reverse_pairs(
    count: int, *, seed: int = 0, min_len: int = 3, max_len: int = 12, alphabet: str = "abcdefghij"
) -> list[tuple[str, str]]:
    """``count`` pairs ("abc", "cba"): a string of symbols and its reversal.

    Reversal needs attention far from the diagonal (the last source symbol comes
    first), which makes it a classic test of encoder–decoder attention.
    """
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        symbols = [rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len))]
        pairs.append(("".join(symbols), "".join(reversed(symbols))))
    return pairs
