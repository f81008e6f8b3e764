"""The readers of a user's parallel text: a TSV file or a pair of line-aligned files."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnkit.data.parallel import read_parallel_file, read_parallel_files


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_tsv_keeps_and_counts(tmp_path) -> None:
    lines = [
        "hola\thello",
        "  con espacios \t with spaces \r",  # sides are stripped (CRLF too)
        "\tonly a target",  # empty source
        "only a source\t ",  # empty target
        "",  # a blank line is empty on both sides
        "no tab at all",  # malformed
        "one\ttab\ttoo many",  # malformed
        "é" * 5 + "\tfive",  # characters, not bytes, are counted
        "é" * 6 + "\tsix",  # too long
        "short\t" + "x" * 6,  # too long on the target side
    ]
    path = write(tmp_path / "pairs.tsv", "\n".join(lines) + "\n")
    pairs, stats = read_parallel_file(path, max_chars=5)
    assert pairs == [("hola", "hello"), ("ééééé", "five")]
    assert stats == {"kept": 2, "empty": 3, "too_long": 3, "malformed": 2}
    pairs, stats = read_parallel_file(path)  # default max_chars=1000
    assert stats == {"kept": 5, "empty": 3, "too_long": 0, "malformed": 2}
    assert pairs[1] == ("con espacios", "with spaces")


def test_two_files_keep_and_count(tmp_path) -> None:
    source = write(tmp_path / "src.txt", "uno\n\ndos\r\n" + "x" * 11 + "\ntres")
    target = write(tmp_path / "tgt.txt", "one\nlost\n  two \nlong\n")
    with pytest.raises(
        ValueError, match=r"not line-aligned: .*src\.txt has 5 lines but .*tgt\.txt has 4"
    ):
        read_parallel_files(source, target)
    target = write(tmp_path / "tgt.txt", "one\nlost\n  two \nlong\nthree\n")
    pairs, stats = read_parallel_files(source, target, max_chars=10)
    assert pairs == [("uno", "one"), ("dos", "two"), ("tres", "three")]
    assert stats == {"kept": 3, "empty": 1, "too_long": 1, "malformed": 0}


def test_missing_files(tmp_path) -> None:
    present = write(tmp_path / "present.txt", "a\n")
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_file(missing)
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_files(present, missing)
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_files(missing, present)


def test_bad_and_empty_files(tmp_path) -> None:
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("señor\tsir\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=r"latin1\.tsv is not valid UTF-8 \(byte 0xf1 at byte offset 2\)"
    ):
        read_parallel_file(latin1)
    good = write(tmp_path / "good.txt", "sir\n")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        read_parallel_files(good, latin1)
    empty = write(tmp_path / "empty.tsv", "")
    with pytest.raises(ValueError, match=r"empty\.tsv is empty"):
        read_parallel_file(empty)


def test_nothing_usable_is_an_error(tmp_path) -> None:
    path = write(tmp_path / "junk.tsv", "no tabs here\n\t\n")
    with pytest.raises(ValueError, match=r"no usable sentence pair.*1 empty.*1 malformed"):
        read_parallel_file(path)


@pytest.mark.parametrize("max_chars", [0, -1, 2.5, True])
def test_max_chars_must_be_a_positive_integer(tmp_path, max_chars) -> None:
    path = write(tmp_path / "pairs.tsv", "a\tb\n")
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        read_parallel_file(path, max_chars=max_chars)
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        read_parallel_files(path, path, max_chars=max_chars)
