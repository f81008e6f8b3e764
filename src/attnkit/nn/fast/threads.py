"""Thread count and oneDNN set for decoding on a CPU.

Changes nothing in the maths; the reference runs decoding with the process's settings.
Tested in ``tests/training/test_fast_paths.py``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

from attnkit.nn import fast

__all__ = ["DECODE_SINGLE_THREAD_ROWS", "cpu_decoding"]

# Incremental decoding of at most this many rows runs on one intra-op thread on a CPU:
# its per-step matrix products are so small that waking and joining a second thread
# costs more than it saves (docs/benchmarks.md has the measurement). Changing the
# thread count is itself costly, so it is done once per decoding call, never per step.
DECODE_SINGLE_THREAD_ROWS = 4

# The thread count and oneDNN switch are process-wide, but decoding loops can overlap:
# the explorer decodes in several worker threads at once, and a generator's loop ends
# whenever its consumer lets go of it. Saving and restoring per loop would then restore
# in the wrong order and leave oneDNN off for the rest of the process (training after
# it would take other kernels). So the first loop to start saves the settings, the
# last one to end restores them, and loops in between run with the first one's.
_guard = threading.Lock()
_active = 0
_saved: tuple[int | None, bool] = (None, True)  # (thread count to restore, oneDNN)


@contextlib.contextmanager
def cpu_decoding(rows: int, device: torch.device) -> Iterator[None]:
    """Set a CPU up for a decoding loop over ``rows`` sequences; undo it afterwards.

    * One intra-op thread when the rows are few (:data:`DECODE_SINGLE_THREAD_ROWS`).
    * oneDNN off: for the tiny tensors of a decoding step its per-call setup dominates
      (docs/benchmarks.md has the measurement). Training keeps it: on large tensors
      oneDNN's kernels are the faster ones.

    Overlapping loops (threads, nested calls, generators closed late) share one change:
    the settings come back when the last of them ends.
    Nothing changes on other devices, or with the speed seam off.
    """
    global _active, _saved
    if device.type != "cpu" or not fast.enabled():
        yield
        return
    with _guard:
        if _active == 0:
            before = torch.get_num_threads()
            few = rows <= DECODE_SINGLE_THREAD_ROWS and before > 1
            _saved = (before if few else None, torch.backends.mkldnn.enabled)
            if few:
                torch.set_num_threads(1)
            # Set directly: torch.backends.mkldnn.flags() also resets TF32 and warns.
            torch.backends.mkldnn.enabled = False
        _active += 1
    try:
        yield
    finally:
        with _guard:
            _active -= 1
            if _active == 0:
                threads, onednn = _saved
                torch.backends.mkldnn.enabled = onednn
                if threads is not None:
                    torch.set_num_threads(threads)
