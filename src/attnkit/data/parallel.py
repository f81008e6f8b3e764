"""Parallel text of the user's own: sentence pairs read from a TSV file or two aligned files.

A corpus is a TSV file (``source<TAB>target`` per line, ``read_parallel_file``) or two
line-aligned files (``read_parallel_files``). Pairs that are empty on one side, longer than
``max_chars`` on one side, or (TSV) not made of exactly two fields are dropped and counted.
The bundled Bible corpora are in ``attnkit.data.bible``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from attnkit.data.text import read_text_file

__all__ = [
    "read_parallel_file",
    "read_parallel_files",
]


def _lines(text: str) -> list[str]:
    """Lines of a file's text: split at ``\\n`` (a final newline ends the last line)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _check_max_chars(max_chars: int) -> None:
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")


def _keep_pairs(
    rows: Iterable[tuple[str, str] | None], max_chars: int, what: str
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Strip each side; drop and count malformed (``None``), empty and too long rows."""
    pairs: list[tuple[str, str]] = []
    stats = {"kept": 0, "empty": 0, "too_long": 0, "malformed": 0}
    for row in rows:
        if row is None:
            stats["malformed"] += 1
            continue
        source, target = row[0].strip(), row[1].strip()
        if not (source and target):
            stats["empty"] += 1
        elif len(source) > max_chars or len(target) > max_chars:
            stats["too_long"] += 1
        else:
            pairs.append((source, target))
    stats["kept"] = len(pairs)
    if not pairs:
        dropped = ", ".join(f"{n} {reason}" for reason, n in stats.items() if reason != "kept")
        raise ValueError(f"{what} has no usable sentence pair (dropped: {dropped})")
    return pairs, stats


def read_parallel_file(
    path: str | os.PathLike[str], *, max_chars: int = 1000
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Read sentence pairs from a TSV file: ``source<TAB>target`` on each line.

    Each side is stripped of surrounding whitespace (so ``\\r\\n`` line ends are fine).
    Dropped and counted: lines without exactly one tab (``malformed``), lines empty on a side,
    blank lines included (``empty``), and lines with a side longer than ``max_chars``
    characters (``too_long``).

    Args:
        path: the UTF-8 file.
        max_chars: the longest side kept, in characters.

    Returns:
        ``(pairs, stats)``: the ``(source, target)`` pairs in file order, and the counts
        ``{"kept", "empty", "too_long", "malformed"}``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: as ``read_text_file``.
        ValueError: the file is not UTF-8 or is empty (as ``read_text_file``), no pair is
            kept, or ``max_chars`` is not a positive integer.

    Examples:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
        >>> _ = p.write_text("hola\\thello\\nsolo una columna\\n\\tvacío\\n", encoding="utf-8")
        >>> read_parallel_file(p)
        ([('hola', 'hello')], {'kept': 1, 'empty': 1, 'too_long': 0, 'malformed': 1})
    """
    _check_max_chars(max_chars)
    text = read_text_file(path)

    def rows() -> Iterable[tuple[str, str] | None]:
        for line in _lines(text):
            fields = line.split("\t")
            if len(fields) == 2:
                yield fields[0], fields[1]
            else:
                yield None if line.strip() else ("", "")

    return _keep_pairs(rows(), max_chars, str(path))


def read_parallel_files(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_chars: int = 1000,
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Read sentence pairs from two line-aligned files: line i of ``source`` translates to
    line i of ``target``.

    Each line is stripped of surrounding whitespace. Dropped and counted: pairs empty on a
    side (``empty``) and pairs with a side longer than ``max_chars`` characters
    (``too_long``); ``malformed`` is always 0 (kept so both readers return the same counts).

    Args:
        source: the source-language UTF-8 file.
        target: the target-language UTF-8 file.
        max_chars: the longest side kept, in characters.

    Returns:
        ``(pairs, stats)`` as ``read_parallel_file``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: as ``read_text_file``.
        ValueError: the files have different numbers of lines (the message names both files
            and both counts), a file is not UTF-8 or is empty, no pair is kept, or
            ``max_chars`` is not a positive integer.
    """
    _check_max_chars(max_chars)
    source_lines = _lines(read_text_file(source))
    target_lines = _lines(read_text_file(target))
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"the files are not line-aligned: {source} has {len(source_lines)} lines "
            f"but {target} has {len(target_lines)}"
        )
    return _keep_pairs(
        zip(source_lines, target_lines, strict=True), max_chars, f"{source}+{target}"
    )
