"""Small protocols that algorithms talk to, instead of checking model classes.

Decoding (greedy, beam, sampling) needs only a way to start a cache and to get the
logits of the next tokens; visualisation needs only the attention maps. Anything with
these methods works, including user models.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Cache", "LanguageModelStep", "Seq2SeqStep", "Tokenizer"]


@runtime_checkable
class Cache(Protocol):
    """A decoding cache: its length is the number of positions seen; ``reorder`` keeps
    the given batch rows (beam search).

    A cache may also offer ``reorder_beams(index, source_rows)``, which beam search then
    calls instead: rows still follow ``index``, but state that is the same for every beam
    of a sentence may stay where it is (``source_rows``: the rows of the sentences still
    searching, or ``None`` when none finished). See
    :meth:`attnkit.nn.cache.StackCache.reorder_beams`."""

    def __len__(self) -> int: ...

    def reorder(self, index: Any) -> None: ...


@runtime_checkable
class LanguageModelStep(Protocol):
    """A decoder-only model that decodes incrementally.

    ``decode_step(tokens (B, T_new), cache)`` returns logits ``(B, T_new, V)``.
    """

    def new_cache(self) -> Cache: ...

    def decode_step(self, tokens: Any, cache: Any, *, padding_mask: Any = None) -> Any: ...


@runtime_checkable
class Seq2SeqStep(Protocol):
    """An encoder–decoder model that encodes once and decodes incrementally.

    ``encode(src (B, S))`` returns an object with ``reorder(index)``;
    ``decode_step(tgt (B, T_new), encoded, cache)`` returns logits ``(B, T_new, V)``.

    Optional: a model whose ``decode_step`` also takes an ``encoded`` of ``B / g`` rows,
    each shared by ``g`` consecutive ``tgt`` rows, says so with a class attribute
    ``accepts_shared_source = True``; beam search then keeps one encoding per sentence
    (and its cache's ``reorder_beams(index, source_rows)`` selects those rows).
    """

    def encode(self, src: Any) -> Any: ...

    def new_cache(self) -> Cache: ...

    def decode_step(self, tgt: Any, encoded: Any, cache: Any) -> Any: ...


@runtime_checkable
class Tokenizer(Protocol):
    """Text ↔ token ids, saved as JSON with a run. ``pad_id``, ``bos_id`` and ``eos_id``
    are the special tokens' ids (``None`` when the vocabulary has no such token)."""

    kind: str
    vocab_size: int
    pad_id: int | None
    bos_id: int | None
    eos_id: int | None

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Any) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...
