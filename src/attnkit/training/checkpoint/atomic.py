"""Atomic file writing: a crash at any moment leaves either the old or the new file (or
directory), never a mixture.

A file is written to a temp file beside it, fsync'ed, ``os.replace``-d onto its name and the
directory fsync'ed. A directory is filled under a temp name, every file fsync'ed, renamed to
its final name and the parent fsync'ed. Temp names start with ``.tmp-``; a directory being
replaced is set aside as ``.old-<name>-<hex>`` between the two renames. :func:`clean_stale`
removes what an interrupted write left behind. Nothing here knows what a checkpoint is.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attnkit.training.checkpoint.errors import CheckpointError, one_line

__all__ = [
    "TMP_PREFIX",
    "OLD_PREFIX",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_dir_atomic",
    "json_bytes",
    "write_error",
    "discard",
    "set_aside_copies",
    "clean_stale",
]

TMP_PREFIX = ".tmp-"  # anything named .tmp-* in a written directory is garbage from a crash
OLD_PREFIX = ".old-"  # .old-NAME-<hex>: NAME set aside while a new NAME replaces it


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    Writes a temp file in the same directory, flushes and fsyncs it, ``os.replace``-s it onto
    ``path`` and fsyncs the directory.

    Raises:
        CheckpointError: writing failed (e.g. "no space left on device while writing PATH");
            ``path`` is unchanged and the temp file removed.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{secrets.token_hex(4)}")
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise write_error(exc, path) from exc
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`write_bytes_atomic`).

    Raises:
        TypeError: ``obj`` is not JSON-serialisable (nothing is written).
        CheckpointError: writing failed.
    """
    write_bytes_atomic(path, json_bytes(obj))


def write_dir_atomic(final: Path, files: Mapping[str, bytes]) -> None:
    """Create (or replace) the directory ``final`` holding ``files`` (name → bytes), all or
    nothing: the files are written and fsync'ed in a ``.tmp-`` directory beside it, which is
    then renamed to ``final`` (see :func:`_install_dir`) and the parent fsync'ed.

    Raises:
        CheckpointError: writing failed; the message names the file being written (as it
            would be called inside ``final``). The temp directory is removed and an existing
            ``final`` is left as it was.
    """
    tmp = final.with_name(f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}")
    writing = final
    try:
        tmp.mkdir()
        for filename, data in files.items():
            writing = final / filename
            _write_synced(tmp / filename, data)
        writing = final
        _fsync_dir(tmp)
        _install_dir(tmp, final)
        _fsync_dir(final.parent)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise write_error(exc, writing) from exc
        raise


def json_bytes(obj: Any) -> bytes:
    """``obj`` as indented UTF-8 JSON with a final newline, the form of every JSON file written."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_error(exc: OSError, path: Path) -> CheckpointError:
    """The one-line error for a failed write of ``path``."""
    if exc.errno == errno.ENOSPC:
        return CheckpointError(f"no space left on device while writing {path}")
    if exc.errno == getattr(errno, "EDQUOT", None):
        return CheckpointError(f"disk quota exceeded while writing {path}")
    return CheckpointError(f"cannot write {path}: {exc.strerror or one_line(exc)}")


def discard(directory: Path) -> None:
    """Delete a directory so that an interruption leaves only ``.tmp-*`` garbage, never a
    half-deleted directory under a real name."""
    trash = directory.with_name(f"{TMP_PREFIX}trash-{directory.name}-{secrets.token_hex(4)}")
    try:
        os.rename(directory, trash)
    except OSError:
        trash = directory
    _remove(trash)


def set_aside_copies(final: Path) -> list[Path]:
    """The ``.old-`` copies of ``final`` that an interrupted replacement left, sorted by name."""
    return sorted(final.parent.glob(f"{OLD_PREFIX}{final.name}-*"))


def clean_stale(directory: Path, restorable: re.Pattern[str]) -> None:
    """Remove what interrupted writes left in ``directory``; put back a set-aside directory
    whose replacement never arrived.

    Args:
        directory: the directory written into.
        restorable: the names (matched whole) whose ``.old-<name>-<hex>`` copies are renamed
            back to ``<name>`` when ``<name>`` is missing; other ``.old-`` entries are left alone.
    """
    old_dir = re.compile(rf"{re.escape(OLD_PREFIX)}({restorable.pattern})-[0-9a-f]+")
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX):
            _remove(entry)
        elif match := old_dir.fullmatch(entry.name):
            final = directory / match.group(1)
            try:
                if final.exists():
                    discard(entry)
                else:
                    os.rename(entry, final)
            except OSError:
                pass


def _write_synced(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename or file creation inside ``path`` durable (no-op where unsupported)."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Delete a file or directory tree, ignoring errors (best-effort cleanup)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _install_dir(tmp: Path, final: Path) -> None:
    """Rename the complete ``tmp`` directory to ``final``, replacing an existing ``final``.

    A directory cannot be renamed onto a non-empty one, so an existing ``final`` is first set
    aside as ``.old-<name>-<hex>``; were the process killed between the two renames, readers
    fall back to the set-aside copy and the next save renames it back.
    """
    if not final.exists():
        os.rename(tmp, final)
        return
    old = final.with_name(f"{OLD_PREFIX}{final.name}-{secrets.token_hex(4)}")
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    _fsync_dir(final.parent)
    discard(old)
