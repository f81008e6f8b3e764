"""What a run was trained on: a fingerprint of the data files its config names.

The config records *where* the data is (``data.train = "notes.txt"``); the fingerprint
records *what* was there: a file's size and sha256, and for a folder of images the number
of files, their total size and one sha256 over their names and contents. The trainer saves
it with every checkpoint, so that a resumed run notices when the data under the same name
changed (a file edited, appended to or regenerated) instead of silently continuing on
other data. The embedded corpora are named by ``data.corpus`` and ship inside installed
packages; they are not hashed.

Example:
    >>> import tempfile
    >>> from attnkit.config import DataConfig
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "notes.txt")
    ...     _ = path.write_text("to be or not to be")
    ...     before = data_fingerprint(DataConfig(train=str(path)))
    ...     _ = path.write_text("to be or not to be, that is the question")
    ...     after = data_fingerprint(DataConfig(train=str(path)))
    >>> before["data.train"]["bytes"], after["data.train"]["bytes"]
    (18, 40)
    >>> [change.split(":")[0] for change in data_changes(before, after)]
    ['data.train notes.txt']
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from attnkit.config import DataConfig

__all__ = ["DATA_FILE_KEYS", "data_changes", "data_fingerprint", "fingerprint_path"]

# The data settings that name files or folders (the rest say how to read them).
DATA_FILE_KEYS = ("train", "train_target", "valid", "valid_target", "test", "test_target")
_COMPARED = ("missing", "files", "bytes", "sha256")  # not "path": a moved file is the same data
_CHUNK = 1 << 20


def data_fingerprint(data: DataConfig) -> dict[str, dict[str, Any]]:
    """``{"data.train": {...}, ...}``: :func:`fingerprint_path` of every data file or folder
    ``data`` names (none for an embedded corpus)."""
    return {
        f"{DataConfig.section}.{key}": fingerprint_path(getattr(data, key))
        for key in DATA_FILE_KEYS
        if getattr(data, key)
    }


def fingerprint_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"path", "bytes", "sha256"}`` of a file; of a folder also ``"files"`` (its files,
    hidden ones left out, hashed with their relative names); ``{"path", "missing": True}``
    when nothing is there."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        return {"path": str(path), "bytes": _hash_file(path, digest), "sha256": digest.hexdigest()}
    if not path.is_dir():
        return {"path": str(path), "missing": True}
    files, total = 0, 0
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            file = Path(root, name)
            # name and size first, so that no two different folders feed the same bytes
            header = file.relative_to(path).as_posix().encode("utf-8") + b"\0"
            digest.update(header + file.stat().st_size.to_bytes(8, "little"))
            total += _hash_file(file, digest)
            files += 1
    return {"path": str(path), "files": files, "bytes": total, "sha256": digest.hexdigest()}


def data_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How the data differs between two fingerprints, one phrase per changed setting, e.g.
    ``data.train notes.txt: 18 bytes, sha256 5d1b2ee9… -> 40 bytes, sha256 0c7c8f3a…``."""
    changes = []
    for key in sorted(set(saved) | set(current)):
        before, after = saved.get(key) or {}, current.get(key) or {}
        if all(before.get(field) == after.get(field) for field in _COMPARED):
            continue
        name = Path(after.get("path") or before.get("path") or "?").name
        changes.append(f"{key} {name}: {_describe(before)} -> {_describe(after)}")
    return changes


def _describe(entry: dict[str, Any]) -> str:
    if not entry:
        return "not set"
    if entry.get("missing"):
        return "missing"
    files = f"{entry['files']:,} files, " if "files" in entry else ""
    return f"{files}{entry['bytes']:,} bytes, sha256 {entry['sha256'][:8]}…"


def _hash_file(path: Path, digest: Any) -> int:
    """Feed ``path``'s bytes to ``digest``; return its size."""
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size
