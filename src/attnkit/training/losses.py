"""Losses used by the trainer (they live in :mod:`attnkit.nn.losses`, next to the
models that also report them)."""

from attnkit.nn.losses import IGNORE_INDEX, token_cross_entropy

__all__ = ["IGNORE_INDEX", "token_cross_entropy"]
