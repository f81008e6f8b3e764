"""The speed seam: every optimisation that changes *how* attnkit computes, never *what*.

The rest of :mod:`attnkit.nn` (and the models, decoding and training built on it) is the
reference: the maths of the notes, in order. Each module here replaces one piece of it
with a faster computation of the same numbers, names the reference it replaces, and is
tested equal to it (``tests/nn/test_fast_equals_reference.py`` and the tests named in
each docstring).

==========================  ============================================  ================
fast module                 replaces (the reference)                      applies when
==========================  ============================================  ================
``attention.attend``        :func:`attnkit.nn.attention.attend`:          always
                            row folding for beams sharing a source,
                            scores + bias + mask in one ``baddbmm``,
                            cheap CPU dropout masks, no empty-row
                            fix-ups when no row is empty
``dropout.dropout``         ``torch.nn.functional.dropout``               on a CPU
``losses``                  ``head(hidden)`` then ``F.cross_entropy``:    with autograd
                            the loss fused with the output projection,
                            in cache-sized chunks
``lean_step``               the stack's layers for one decoding step:     eval, no autograd,
                            one plain-tensor pass, Q/K/V as one matmul    one new position
``threads.cpu_decoding``    nothing: thread count and oneDNN for          decoding on a CPU
                            decoding's tiny matrix products
``masks``                   an all-real padding mask (it restricts        decoding; a CPU
                            nothing) is dropped: unmasked kernels
``passes``                  one training pass per micro-batch: passes     training on a CPU
                            over slices of rows that fit the cache
==========================  ============================================  ================

Switching the seam off runs the reference everywhere: set the environment variable
``ATTNKIT_REFERENCE=1`` before starting Python, or use :func:`reference_mode` (a context
manager) or :func:`set_enabled` at run time. ``make test`` runs the model, decoding and
layer tests both ways.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["enabled", "reference_mode", "set_enabled"]

_enabled = os.environ.get("ATTNKIT_REFERENCE", "").strip().lower() in ("", "0", "false", "no")


def enabled() -> bool:
    """Whether the fast implementations run (``False``: the reference runs everywhere)."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Turn the fast implementations on (``True``) or off (``False``: the reference)."""
    global _enabled
    _enabled = bool(flag)


@contextlib.contextmanager
def reference_mode(reference: bool = True) -> Iterator[None]:
    """Run the block with the reference implementations (``reference=False``: the fast
    ones), restoring the previous setting afterwards.

    Example:
        >>> from attnkit.nn import fast
        >>> with fast.reference_mode():
        ...     fast.enabled()
        False
    """
    before = _enabled
    set_enabled(not reference)
    try:
        yield
    finally:
        set_enabled(before)
