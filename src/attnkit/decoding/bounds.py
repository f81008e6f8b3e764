"""What decoding may ask of the machine: a beam no wider than the vocabulary, and batches
whose decoding state fits in the memory there is.

While it decodes, each decoder row — a sentence, or one beam of it — holds the step's
logits over the vocabulary (with the scratch copies that log-softmax and top-k make), the
ids generated so far, and the decoder's state: a Transformer's key/value cache grows by
``2 · layers · d_model`` floats per token (its buffers double when full), a recurrent
decoder's state has a fixed size. A beam of 10,000 over 32 sentences is 320,000 rows: tens
of gigabytes, and the kernel ends the process without a word. These checks refuse such
settings before decoding starts, or make batches smaller, and say the limit in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RowCost", "available_memory", "check_beam", "fit_batch", "memory_budget"]

_GIB = 1024**3
# Decoding may use this share of the memory available when it starts: the model, the
# encoded sources and Python itself need the rest.
_BUDGET_SHARE = 0.5


def available_memory() -> int | None:
    """Bytes of memory this process can still take (Linux ``MemAvailable``; elsewhere the
    free pages), or ``None`` when the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_budget() -> int | None:
    """Bytes decoding may use: half of :func:`available_memory` (``None``: unknown, so
    nothing is refused). ``ATTNKIT_DECODING_MEMORY`` (bytes) overrides it."""
    override = os.environ.get("ATTNKIT_DECODING_MEMORY")
    if override:
        return int(override)
    available = available_memory()
    return None if available is None else int(available * _BUDGET_SHARE)


@dataclass(frozen=True)
class RowCost:
    """What one decoder row holds while it decodes.

    Attributes:
        vocab_size: the size of the logits of each step.
        floats_per_token: decoder state added per generated token (a Transformer's
            key/value cache: ``2 · decoder layers · d_model``; 0 for a recurrent decoder).
        fixed_floats: decoder state of fixed size (a recurrent decoder's hidden states).
    """

    vocab_size: int
    floats_per_token: int
    fixed_floats: int = 0

    def bytes(self, length: int) -> int:
        """Bytes of one row that has produced ``length`` tokens (float32 state)."""
        # logits, their log-softmax and the top-k candidates: three rows of V floats; the
        # cache's buffers double when full, so up to twice the tokens' keys and values.
        floats = 3 * self.vocab_size + 2 * self.floats_per_token * length + self.fixed_floats
        return 4 * floats + 8 * length  # + the generated ids (int64)


def _gib(count: int) -> str:
    return f"{count / _GIB:.1f} GiB" if count >= _GIB / 10 else f"{count / 1024**2:.0f} MiB"


def check_beam(beam: int, n_best: int, vocab_size: int) -> None:
    """Raise a one-line ``ValueError`` naming ``beam`` or ``n_best`` unless
    ``1 <= n_best <= beam <= vocab_size``.

    A beam keeps distinct continuations; at the first step there are only ``vocab_size``
    of them, so a wider beam holds copies of dead hypotheses and only costs memory.
    """
    for name, value in (("beam", beam), ("n_best", n_best)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r}: pass a whole number >= 1")
    if beam > vocab_size:
        raise ValueError(
            f"beam={beam} is wider than the model's vocabulary ({vocab_size} tokens): a beam "
            f"keeps distinct continuations, so pass beam={vocab_size} or less"
        )
    if n_best > beam:
        raise ValueError(f"n_best={n_best} is more than beam={beam}: pass beam={n_best} or more")


def fit_batch(
    batch_size: int,
    *,
    beam: int,
    length: int,
    cost: RowCost,
    length_name: str = "max_new_tokens",
    length_offset: int = 0,
    budget: int | None = None,
) -> int:
    """The largest batch, up to ``batch_size`` items (sentences, images, prompts) of
    ``beam`` rows each, whose decoding state for ``length`` tokens a row fits the memory
    budget.

    Args:
        batch_size: the batch wanted.
        beam: decoder rows per item (the beam size; 1 for greedy decoding and sampling).
        length: the most tokens a row may hold.
        cost: what a row holds (:class:`RowCost`).
        length_name: the caller's parameter that sets ``length``, for the message.
        length_offset: tokens of ``length`` that parameter does not count (a prompt).
        budget: bytes decoding may use (default: :func:`memory_budget`; when that is
            unknown, ``batch_size`` is returned as it is).

    Raises:
        ValueError: not even one item fits; the message says what it needs, what there
            is, and the largest ``beam`` or ``length_name`` that would fit.
    """
    budget = memory_budget() if budget is None else budget
    if budget is None:
        return batch_size
    per_item = beam * cost.bytes(length)
    if per_item <= budget:
        return max(1, min(batch_size, budget // per_item))
    hints = []
    widest = budget // cost.bytes(length)
    if 1 <= widest < beam:
        hints.append("beam=1" if widest == 1 else f"beam={widest} or less")
    per_token = beam * (8 * cost.floats_per_token + 8)  # bytes of one more token, all beams
    longest = (budget - beam * cost.bytes(0)) // per_token - length_offset
    if longest >= 1:
        hints.append(f"{length_name}={longest} or less")
    advice = " or ".join(hints) if hints else "a model with a smaller vocabulary"
    rows = f"beam={beam}, " if beam > 1 else ""
    raise ValueError(
        f"decoding {rows}{length_name}={length - length_offset} needs ~{_gib(per_item)} of "
        f"memory, more than the {_gib(budget)} it may use here (half of what is available): "
        f"pass {advice}"
    )
