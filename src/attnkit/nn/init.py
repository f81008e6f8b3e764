"""Weight initialisation shared by the model families."""

from __future__ import annotations

import math

from torch import nn

__all__ = ["init_transformer_weights"]


def init_transformer_weights(model: nn.Module, *, std: float = 0.02, num_layers: int = 1) -> None:
    """GPT-2-style initialisation: normal(0, std) weights for linear and embedding
    layers, zero biases, and residual output projections (``out_proj``, ``fc2``) scaled
    by ``1/√(2·num_layers)`` so the residual stream's variance does not grow with depth.

    Norms and the score functions' own parameters keep their initialisation.
    """
    residual_std = std / math.sqrt(2 * num_layers)
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            is_residual_output = name.endswith(("out_proj", "fc2"))
            nn.init.normal_(module.weight, std=residual_std if is_residual_output else std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
