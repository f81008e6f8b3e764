"""Reading a user's text file exactly, and writing text files atomically.

``read_text_file`` is the one door through which user corpora enter: it returns the text
exactly as stored (no newline translation, no Unicode normalisation; only a leading UTF-8
byte-order mark is dropped) and turns every way of failing into a one-line message that
names the file. ``write_text_atomic`` is used for the converted corpora and by
``Tokenizer.save``: a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["read_text_file", "write_text_atomic"]

_BOM = "\ufeff"


def read_text_file(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file exactly as stored.

    Nothing is normalised: ``\\r\\n`` stays ``\\r\\n``, NFD stays NFD. Only a leading
    UTF-8 byte-order mark (U+FEFF) is removed.

    Args:
        path: the file to read.

    Returns:
        The file's text, a ``str`` of at least one character.

    Raises:
        FileNotFoundError: ``no such file: PATH``.
        IsADirectoryError: ``PATH is a directory, not a file``.
        PermissionError: ``cannot read PATH: permission denied``.
        OSError: ``cannot read PATH: REASON`` for any other read failure.
        ValueError: ``PATH is not valid UTF-8 (byte 0x.. at byte offset N)`` or
            ``PATH is empty``.

    Examples:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_bytes("to be\\r\\nor not".encode())
        >>> read_text_file(p)
        'to be\\r\\nor not'
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    except OSError as error:
        if path.is_dir():  # some platforms report a directory as a generic OSError
            raise IsADirectoryError(f"{path} is a directory, not a file") from None
        raise OSError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise ValueError(
            f"{path} is not valid UTF-8 (byte 0x{bad:02x} at byte offset {error.start})"
        ) from None
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    if not text:
        raise ValueError(f"{path} is empty")
    return text


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 so that readers see the old file or the new one.

    The text goes to a temporary file in the same directory, is flushed and fsync'ed, and
    then renamed over ``path`` with :func:`os.replace`. Parent directories are created.
    Newlines are written as given (no translation).

    Args:
        path: destination file.
        text: the content.

    Returns:
        None.

    Raises:
        OSError: the directory or the file cannot be written; no partial file is left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; use the usual mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
