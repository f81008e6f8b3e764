"""The sliding window: chunks never see more than max_len tokens, restart from the last
half, and the text pieces add up to the decoded tokens."""

from __future__ import annotations

from attnkit.decoding.window import windowed_text


def test_chunks_restart_from_the_last_half_and_never_exceed_max_len():
    seen: list[list[int]] = []

    def produce(context: list[int], chunk: int):
        seen.append(list(context))
        return iter(range(100 + len(seen) * 10, 100 + len(seen) * 10 + chunk))

    pieces = list(
        windowed_text(
            [1, 2, 3],
            max_new_tokens=12,
            max_len=8,
            produce=produce,
            decode=lambda ids: "".join(f"<{i}>" for i in ids),
        )
    )
    assert len(pieces) == 12
    assert all(len(context) <= 8 for context in seen)
    assert seen[0] == [1, 2, 3]  # first chunk: the prompt, 5 tokens to fill the window
    assert seen[1] == [111, 112, 113, 114]  # full: restart from the last 8 // 2 tokens
    assert [len(c) for c in seen] == [3, 4, 4]  # chunks of 5, 4 and the last 3
    assert "".join(pieces).count("<") == 12


def test_without_max_len_one_chunk_does_everything():
    calls: list[int] = []

    def produce(context: list[int], chunk: int):
        calls.append(chunk)
        return iter([7] * chunk)

    text = "".join(
        windowed_text([1], max_new_tokens=5, max_len=None, produce=produce, decode=_digits)
    )
    assert calls == [5] and text == "77777"


def _digits(ids: list[int]) -> str:
    return "".join(map(str, ids))
