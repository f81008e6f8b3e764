"""attnkit — Transformer networks on PyTorch, built to be read, tested and trained.

The public API; everything else is importable from its module.

Example:
    >>> import torch, attnkit
    >>> config = attnkit.DecoderLMConfig(vocab_size=65, d_model=64, num_heads=4, num_layers=2)
    >>> model = attnkit.DecoderLM(config)
    >>> out = model(torch.randint(65, (1, 12)), need_weights=True)
    >>> out.logits.shape, out.attentions.stacked("decoder").shape
    (torch.Size([1, 12, 65]), torch.Size([2, 1, 4, 12, 12]))
"""

__version__ = "0.1.0"

from attnkit.config import (
    ConfigError,
    DecoderLMConfig,
    EncoderConfig,
    Seq2SeqConfig,
    TransformerConfig,
)
from attnkit.models import DecoderLM, EncoderMLM, Transformer, build_model, mask_tokens
from attnkit.nn import (
    Attention,
    AttentionMaps,
    AttentionOutput,
    MultiHeadAttention,
    TransformerLayer,
    TransformerStack,
    attend,
    combine_masks,
    make_causal_mask,
    make_local_mask,
    make_padding_mask,
    make_score,
)

__all__ = [
    "Attention",
    "AttentionMaps",
    "AttentionOutput",
    "ConfigError",
    "DecoderLM",
    "DecoderLMConfig",
    "EncoderConfig",
    "EncoderMLM",
    "MultiHeadAttention",
    "Seq2SeqConfig",
    "Transformer",
    "TransformerConfig",
    "TransformerLayer",
    "TransformerStack",
    "__version__",
    "attend",
    "build_model",
    "combine_masks",
    "make_causal_mask",
    "make_local_mask",
    "make_padding_mask",
    "make_score",
    "mask_tokens",
]
