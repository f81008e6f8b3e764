"""AdamW with sensible parameter groups, and learning-rate schedules as pure functions of
the update count (so resuming needs nothing but the step)."""

from __future__ import annotations

import math

import torch
from torch import nn

from attnkit.config import TrainConfig

__all__ = ["build_optimizer", "learning_rate", "parameter_groups"]


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters into decayed (weight matrices) and not decayed (norms, biases,
    embeddings and position tables: decaying them only shrinks them toward zero).

    Tied parameters appear once.
    """
    no_decay: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            no_decay.add(id(module.weight))
    decay, keep = [], []
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        is_table = name.endswith("position.weight")  # learned position embedding
        if param.dim() < 2 or id(param) in no_decay or is_table:
            keep.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": keep, "weight_decay": 0.0},
    ]


# Devices with a fused AdamW kernel (one pass over every parameter, instead of a dozen
# elementwise kernels per tensor): faster than foreach and the loop on the CPU
# (docs/benchmarks.md).
_FUSED_ADAMW_DEVICES = ("cpu", "cuda", "mps", "xpu")


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`, with the fused kernel where the device has
    one (CPU and CUDA included) and the foreach implementation elsewhere."""
    device = next(model.parameters()).device.type
    fused = device in _FUSED_ADAMW_DEVICES
    return torch.optim.AdamW(
        parameter_groups(model, config.weight_decay),
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        fused=True if fused else None,
        foreach=None if fused else True,
    )


def learning_rate(step: int, config: TrainConfig, *, elapsed_seconds: float = 0.0) -> float:
    """Learning rate for update ``step`` (counted from 0).

    * ``constant``: linear warm-up to ``lr``, then ``lr``.
    * ``cosine``: linear warm-up to ``lr``, then a half cosine down to ``min_lr`` at
      ``steps`` — or, with ``anneal_by_time``, at ``steps`` or when ``elapsed_seconds``
      (training time so far) reaches ``max_minutes``, whichever comes first.
    * ``noam`` (Vaswani et al.): ``lr · min(s / warmup, √(warmup / s))`` with
      ``s = step + 1`` — linear warm-up, then inverse square root. The paper's
      ``d_model^-0.5 · min(s^-0.5, s · warmup^-1.5)`` is this with
      ``lr = (d_model · warmup)^-0.5``.
    """
    s = step + 1
    warmup = config.warmup_steps
    if config.schedule == "noam":
        return config.lr * min(s / warmup, math.sqrt(warmup / s))
    if warmup and s <= warmup:
        return config.lr * s / warmup
    if config.schedule == "constant":
        return config.lr
    progress = min(1.0, (s - warmup) / max(1, config.steps - warmup))
    if config.anneal_by_time and config.max_minutes:
        progress = max(progress, min(1.0, elapsed_seconds / (60 * config.max_minutes)))
    final = config.final_lr
    return final + 0.5 * (config.lr - final) * (1 + math.cos(math.pi * progress))
