"""The runs an explorer serves: the directories named on its command line, each loaded
once, under a short id that requests use (a request names a run, never a path)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from attnkit.api import load_run
from attnkit.training.rundir import LoadedRun

__all__ = ["ModelLock", "ServedRun", "load_runs"]


class ModelLock:
    """Who may use a model at once: any number of plain forward passes together (they
    only read the weights; measured faster than one at a time, docs/benchmarks.md), or
    one request alone — the worked example, whose hook on an attention module must not
    see another request's forward pass."""

    def __init__(self, *, always_exclusive: bool = False):
        self.always_exclusive = always_exclusive
        self._changed = threading.Condition()
        self._readers, self._writer = 0, False

    @contextmanager
    def shared(self) -> Iterator[None]:
        if self.always_exclusive:
            with self.exclusive():
                yield
            return
        with self._changed:
            self._changed.wait_for(lambda: not self._writer)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writer and not self._readers)
            self._writer = True
        try:
            yield
        finally:
            with self._changed:
                self._writer = False
                self._changed.notify_all()


@dataclass
class ServedRun:
    """One loaded run and the lock that governs who uses its model (:class:`ModelLock`)."""

    id: str
    path: Path
    run: LoadedRun
    lock: ModelLock = field(default_factory=ModelLock)


def _run_id(path: Path, taken: set[str]) -> str:
    """The folder's name, made unique (``shakespeare``, ``shakespeare-2``) and URL-safe."""
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.name) or "run"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def load_runs(
    paths: Sequence[str | Path], *, checkpoint: int | None = None
) -> dict[str, ServedRun]:
    """Load every run directory of ``paths`` (the best model; or each one's ``checkpoint``
    of that step), keyed by id in the order given.

    Raises:
        ValueError: no run directory was given.
        CheckpointError: a folder is not a run or its checkpoint is damaged;
            the message names the folder.
    """
    if not paths:
        raise ValueError("give at least one run directory to explore")
    served: dict[str, ServedRun] = {}
    for path in paths:
        root = Path(path)
        run_id = _run_id(root.resolve(), set(served))
        served[run_id] = ServedRun(run_id, root, load_run(root, checkpoint=checkpoint))
    return served
