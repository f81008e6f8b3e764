"""One writer per run directory: the lock file ``RUN_DIR/train.lock``.

Training writes checkpoints, pointers, ``metrics.jsonl`` and the config into its run
directory; two trainings writing into one directory would interleave their metrics and
overwrite each other's checkpoints. So the trainer holds this lock from before it looks at
the directory until it has written its last file, and a second writer is refused with one
line naming the process that holds it. Reading a run (generate, evaluate, info, attention,
...) takes no lock.

The file says who holds it (pid, host, start time); the lock itself is an exclusive
``flock`` on the open file, which the operating system drops when its process ends however
it ends (``kill -9`` included). A lock file whose lock nobody holds was left by a process
that is gone: the next writer takes it over with a one-line note. On a file system without
``flock`` (some network file systems) the pid decides instead: a lock file naming a live
process on this host, or any process on another host, is held.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as run:
    ...     with RunLock(run) as lock:
    ...         holder = read_holder(lock.path)
    ...         try:
    ...             RunLock(run).acquire()
    ...         except RunBusyError as busy:
    ...             refused = str(busy)
    ...     holder.pid == os.getpid(), f"process {os.getpid()}" in refused, lock.path.exists()
    (True, True, False)
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "Holder", "RunBusyError", "RunLock", "read_holder"]

LOCK_FILE = "train.lock"

# flock is not available on this file system: fall back to the pid in the file.
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class RunBusyError(RuntimeError):
    """Another process is training into the run directory; the message names it."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a run's lock, as written in the lock file."""

    pid: int
    host: str
    started: str  # ISO 8601, local time with its offset

    def describe(self) -> str:
        where = "this host" if self.host == socket.gethostname() else f"host {self.host}"
        return f"process {self.pid} on {where} (since {self.started})"


def read_holder(path: str | os.PathLike[str]) -> Holder | None:
    """The holder a lock file names, or ``None`` when the file is absent, empty (being
    written) or not a lock file."""
    try:
        values = json.loads(Path(path).read_bytes())
        return Holder(pid=int(values["pid"]), host=str(values["host"]), started=values["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RunLock:
    """The lock on one run directory; a context manager (:meth:`acquire` / :meth:`release`).

    Args:
        run_dir: the run directory (created on :meth:`acquire` if needed).
    """

    def __init__(self, run_dir: str | os.PathLike[str]):
        self.root = Path(run_dir)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None
        self._created_root = False

    def acquire(self) -> str | None:
        """Take the lock, creating the run directory if needed.

        Returns:
            A one-line note when a stale lock (left by a process that is gone) was taken
            over, else ``None``.

        Raises:
            RunBusyError: another process holds the lock; nothing in the directory changed.
            OSError: the directory or the lock file cannot be created (one line).
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        try:
            self._created_root = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the run directory {self.root}: {exc.strerror}") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OSError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
            try:
                held_elsewhere = not _try_flock(fd, self.path)
                if held_elsewhere:
                    raise self._busy()
                # The holder before us may have removed the file between our open and our
                # lock: then we locked a file nobody else will see. Start again.
                if not _is_current(fd, self.path):
                    os.close(fd)
                    continue
                previous = read_holder(self.path)
                _write_holder(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            if previous is None or previous.pid == os.getpid():
                return None
            return (
                f"note: took over the stale lock {self.path} of {previous.describe()}, "
                f"which no longer runs"
            )

    def release(self) -> None:
        """Remove the lock file and drop the lock (a no-op when not held); a run directory
        that :meth:`acquire` created and nothing else was written to goes too."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Removed while still locked, so that nobody takes over a file about to vanish.
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # the lock itself goes with the descriptor; a stale file is taken over
        finally:
            os.close(fd)
        if self._created_root:
            with contextlib.suppress(OSError):  # not empty: the run was written
                self.root.rmdir()

    def _busy(self) -> RunBusyError:
        holder = read_holder(self.path)
        who = holder.describe() if holder is not None else "another process"
        return RunBusyError(
            f"{self.root} is being trained by {who}: one run directory takes one training at "
            f"a time; wait for it to end (or stop it), or choose another --out"
        )

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _try_flock(fd: int, path: Path) -> bool:
    """Lock ``fd`` exclusively without waiting; False when another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return _pid_says_free(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_FLOCK:
            return _pid_says_free(path)
        raise
    return True


def _pid_says_free(path: Path) -> bool:
    """Without ``flock``: the lock is free unless its file names a live process on this
    host, or any process on another host (which cannot be checked from here)."""
    holder = read_holder(path)
    if holder is None or holder.pid == os.getpid():
        return True
    if holder.host != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return False


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not removed or replaced meanwhile)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (now.st_dev, now.st_ino)


def _write_holder(fd: int) -> None:
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    holder = Holder(pid=os.getpid(), host=socket.gethostname(), started=started)
    data = (json.dumps(asdict(holder)) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.fsync(fd)
