"""Training passes sized to the CPU's last-level cache.

Replaces one forward/backward pass over a whole micro-batch (the reference, in
:func:`attnkit.training.trainer.update_step`) by several passes over slices of its rows,
on a CPU. The loss is a sum over tokens divided by the update's total count, so the
update is the same (tested in ``tests/training/test_fast_paths.py``); only dropout draws
its masks in a different order.
"""

from __future__ import annotations

import torch

__all__ = ["CPU_PASS_TOKENS", "cache_sized_passes"]

# On a CPU, a training pass over more tokens than this spills its activations out of
# the last-level cache and every elementwise operation then runs at DRAM speed (a large
# batch trains markedly slower per token than a small one). Bigger micro-batches are
# run in slices of rows instead.
CPU_PASS_TOKENS = 1024


def cache_sized_passes(batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Split a micro-batch by rows into passes of at most ``CPU_PASS_TOKENS`` tokens."""
    labels = batch["labels"]  # (B, T) for sequences, (B,) for one label per example
    rows, length = labels.shape[0], labels[0].numel() if labels.dim() > 1 else 1
    per_pass = max(1, CPU_PASS_TOKENS // max(length, 1))
    if rows <= per_pass:
        return [batch]
    return [
        {key: value[start : start + per_pass] for key, value in batch.items()}
        for start in range(0, rows, per_pass)
    ]
