"""Reading user text files exactly, with one-line errors; writing them atomically."""

from __future__ import annotations

import os
import re
import unicodedata

import pytest

from attnkit.data import text as text_module
from attnkit.data.text import read_text_file, write_text_atomic


def test_reads_text_exactly(tmp_path) -> None:
    content = "To be,\r\nor not " + unicodedata.normalize("NFD", "café") + "\n\n\t 👩‍👧\n"
    path = tmp_path / "play.txt"
    path.write_bytes(content.encode("utf-8"))
    assert read_text_file(path) == content
    assert read_text_file(str(path)) == content


def test_strips_only_a_leading_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello \xef\xbb\xbf")
    assert read_text_file(path) == "hello \ufeff"


def test_missing_file(tmp_path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=f"^no such file: {re.escape(str(path))}$"):
        read_text_file(path)


def test_directory(tmp_path) -> None:
    with pytest.raises(IsADirectoryError, match=f"^{re.escape(str(tmp_path))} is a directory"):
        read_text_file(tmp_path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file"
)
def test_unreadable_file(tmp_path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)
    try:
        with pytest.raises(
            PermissionError, match=f"^cannot read {re.escape(str(path))}: permission denied$"
        ):
            read_text_file(path)
    finally:
        path.chmod(0o600)


def test_unreadable_file_message(tmp_path, monkeypatch) -> None:
    """The same message when the OS refuses (simulated, so it also runs as root)."""
    path = tmp_path / "secret.txt"
    path.write_text("x")

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(text_module.Path, "read_bytes", refuse)
    with pytest.raises(PermissionError, match=r"^cannot read .*secret.txt: permission denied$"):
        read_text_file(path)


def test_not_utf8_names_the_file_and_byte_offset(tmp_path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("naïve".encode("latin-1"))
    message = f"^{re.escape(str(path))} is not valid UTF-8 \\(byte 0xef at byte offset 2\\)$"
    with pytest.raises(ValueError, match=message):
        read_text_file(path)


def test_encoded_surrogate_is_not_utf8(tmp_path) -> None:
    path = tmp_path / "surrogate.txt"
    path.write_bytes(b"ab\xed\xa0\x80")  # U+D800 encoded as if it were a character
    with pytest.raises(ValueError, match=r"not valid UTF-8 .*byte offset 2"):
        read_text_file(path)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} is empty$"):
        read_text_file(path)


def test_atomic_write_creates_replaces_and_leaves_no_temp_file(tmp_path) -> None:
    path = tmp_path / "sub" / "out.txt"
    write_text_atomic(path, "one\r\n")
    assert path.read_bytes() == b"one\r\n"
    write_text_atomic(path, "two ✓")
    assert path.read_text(encoding="utf-8") == "two ✓"
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(text_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
