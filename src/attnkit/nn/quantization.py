"""Dynamic int8 quantization of a model's linear layers, for inference on a CPU.

Every ``nn.Linear`` becomes an int8 linear: its weights are stored as 8-bit integers
with one scale per output unit, and each call quantizes its input on the fly (one scale
per call) and runs an integer matrix product (PyTorch's x86 kernels). Embeddings, norms,
softmax and the attention arithmetic stay in fp32. Matrix products over many rows — beam
search, batched translation, evaluation — get several times faster; one row at a time
they were never the bottleneck. The cost in accuracy is small but real: the run's
BLEU and perplexity with and without it are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import copy
import warnings

from torch import nn

__all__ = ["quantize_int8"]


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for CPU inference with every ``nn.Linear`` in int8.

    The original is left as it is. The copy is in eval mode and cannot be trained; it
    decodes through the layers' own forward (the lean decoding step needs fp32 weights).

    Raises:
        ValueError: the model is not on the CPU (the int8 kernels are CPU kernels).

    Example:
        >>> small = quantize_int8(torch.nn.Sequential(torch.nn.Linear(8, 4)))
        >>> type(small[0]).__name__, small(torch.ones(2, 8)).shape
        ('Linear', torch.Size([2, 4]))
    """
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(
            f"int8 quantization runs on the CPU only, but the model is on "
            f"{', '.join(sorted(devices))}; load it with device='cpu'"
        )
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    quantized = copy.deepcopy(model).eval()
    with warnings.catch_warnings():  # torch.ao announces its move to torchao on every call
        warnings.simplefilter("ignore")
        quantize_dynamic(quantized, {nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
    for parameter in quantized.parameters():
        parameter.requires_grad_(False)
    return quantized
