"""Thread count and oneDNN set for decoding on a CPU.

Changes nothing in the maths; the reference runs decoding with the process's settings.
Tested in ``tests/training/test_fast_paths.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from attnkit.nn import fast

__all__ = ["DECODE_SINGLE_THREAD_ROWS", "cpu_decoding"]

# Incremental decoding of at most this many rows runs on one intra-op thread on a CPU:
# its per-step matrix products are so small that waking and joining a second thread
# costs more than it saves (docs/benchmarks.md has the measurement). Changing the
# thread count is itself costly, so it is done once per decoding call, never per step.
DECODE_SINGLE_THREAD_ROWS = 4


@contextlib.contextmanager
def cpu_decoding(rows: int, device: torch.device) -> Iterator[None]:
    """Set a CPU up for a decoding loop over ``rows`` sequences; undo it afterwards.

    * One intra-op thread when the rows are few (:data:`DECODE_SINGLE_THREAD_ROWS`).
    * oneDNN off: for the tiny tensors of a decoding step its per-call setup dominates
      (docs/benchmarks.md has the measurement). Training keeps it: on large tensors
      oneDNN's kernels are the faster ones.

    Nothing changes on other devices, or with the speed seam off.
    """
    if device.type != "cpu" or not fast.enabled():
        yield
        return
    before, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    few = rows <= DECODE_SINGLE_THREAD_ROWS and before > 1
    if few:
        torch.set_num_threads(1)
    # Set directly: torch.backends.mkldnn.flags() also resets TF32 and warns about it.
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = onednn
        if few:
            torch.set_num_threads(before)
