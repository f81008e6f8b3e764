"""The one error every checkpoint operation raises, and the one-line form of its causes."""

from __future__ import annotations

__all__ = ["CheckpointError", "one_line"]


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read or applied; the message is one line that names
    the file and the problem."""


def one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
