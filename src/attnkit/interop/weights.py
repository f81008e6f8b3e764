"""Weight layouts that every converter needs: reading a checkpoint's tensors, absolute
position tables, grouped key/value heads, biases a model was built without.

Each helper is exact: what it writes computes the same numbers as attnkit's module it
stands for, so a converted model gives attnkit's outputs to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = [
    "bias_or_zeros",
    "expand_kv_heads",
    "position_table",
    "read_safetensors",
    "write_safetensors",
]


def read_safetensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a safetensors file, in float32 (half-precision checkpoints are
    widened: attnkit runs imported models in fp32).

    Raises:
        OSError: the file is missing (named) — a ``pytorch_model.bin`` alone is refused,
            since loading it would unpickle.
        ValueError: the file is not safetensors (named).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        pickled = path.with_name("pytorch_model.bin")
        hint = (
            f"; {pickled.name} is a pickle, which attnkit never loads: save the model with "
            f"save_pretrained(..., safe_serialization=True) first"
            if pickled.is_file()
            else ""
        )
        raise FileNotFoundError(f"{path.parent} has no {path.name}{hint}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from None
    return {
        name: tensor.float() if tensor.is_floating_point() else tensor
        for name, tensor in tensors.items()
    }


def write_safetensors(path: Path, tensors: Mapping[str, Tensor]) -> None:
    """Write ``tensors`` as ``transformers`` expects them (``{"format": "pt"}`` metadata;
    each tensor its own contiguous copy, since safetensors refuses shared memory)."""
    from safetensors.torch import save_file

    owned = {name: tensor.detach().clone().contiguous() for name, tensor in tensors.items()}
    save_file(owned, str(path), metadata={"format": "pt"})


def position_table(embedding: nn.Module, max_len: int, width: int) -> Tensor:
    """The absolute-position vectors an attnkit input embedding adds, as a learned table
    of ``max_len`` rows: the learned table itself, the sinusoids evaluated at
    ``0 .. max_len-1``, or zeros when the model adds no absolute position.

    Shape:
        ``(max_len, width)``.
    """
    position = getattr(embedding, "position", None)
    if position is None:
        return torch.zeros(max_len, width)
    if isinstance(getattr(position, "weight", None), Tensor):
        return position.weight.detach()
    with torch.no_grad():
        return position(torch.arange(max_len)[None])[0]  # (max_len, width)


def expand_kv_heads(weight: Tensor, *, num_heads: int, num_kv_heads: int) -> Tensor:
    """A key or value projection of ``num_kv_heads`` grouped heads, written out for
    ``num_heads`` heads: attnkit's grouped-query attention gives query head ``h`` the
    key/value head ``h // (num_heads / num_kv_heads)``, so each block of rows repeats.

    Shape:
        weight ``(Hkv·Dh, D)`` (or bias ``(Hkv·Dh,)``) → ``(H·Dh, D)`` (``(H·Dh,)``).
    """
    if num_heads == num_kv_heads:
        return weight
    repeats = num_heads // num_kv_heads
    heads = weight.reshape(num_kv_heads, -1, *weight.shape[1:])  # (Hkv, Dh, ...)
    return heads.repeat_interleave(repeats, dim=0).reshape(-1, *weight.shape[1:])


def bias_or_zeros(layer: nn.Linear) -> Tensor:
    """The layer's bias, or zeros when it was built without one (exact: adding 0)."""
    if layer.bias is not None:
        return layer.bias.detach()
    return torch.zeros(layer.out_features, dtype=layer.weight.dtype)
