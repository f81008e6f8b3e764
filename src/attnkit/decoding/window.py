"""Generating past a model's positions: the sliding window, shared by every engine.

A model with learned positions can only see ``max_len`` tokens. To write more, attnkit
generates in chunks: when the context is full, the next chunk starts afresh from its last
``max_len // 2`` tokens (half the window, so each restart pays one prompt pass for many
new tokens). Which engine produces the tokens of a chunk does not matter here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = ["windowed_text"]


def windowed_text(
    ids: Sequence[int],
    *,
    max_new_tokens: int,
    max_len: int | None,
    produce: Callable[[list[int], int], Iterable[int]],
    decode: Callable[[list[int]], str],
) -> Iterator[str]:
    """The text of ``max_new_tokens`` tokens generated after ``ids``, piece by piece.

    ``produce(context, chunk)`` yields up to ``chunk`` new token ids after ``context``;
    with ``max_len`` the context never exceeds it (see the module docstring), with
    ``None`` one chunk does everything.

    Shape:
        ids ``(T,)`` → text pieces whose concatenation decodes all produced tokens.
    """
    context, produced, text = list(ids), [], ""
    remaining = max_new_tokens
    while remaining > 0:
        chunk = remaining
        if max_len is not None:
            if len(context) >= max_len:
                context = context[-(max_len // 2) :]
            chunk = min(remaining, max_len - len(context))
        for token in produce(list(context), chunk):
            produced.append(token)
            context.append(token)
            # Decode everything so far: a subword may complete a character only later.
            new_text = decode(produced)
            yield new_text[len(text) :]
            text = new_text
        remaining -= chunk
