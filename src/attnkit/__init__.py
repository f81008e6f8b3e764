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

# Names are imported on first use, so that e.g. ``import attnkit.config`` stays free of
# torch and ``attnkit --version`` starts instantly.
_EXPORTS = {
    "ConfigError": "attnkit.config",
    "DecoderLMConfig": "attnkit.config",
    "EncoderConfig": "attnkit.config",
    "ImageCaptionerConfig": "attnkit.config",
    "RNNSeq2SeqConfig": "attnkit.config",
    "RunConfig": "attnkit.config",
    "Seq2SeqConfig": "attnkit.config",
    "TransformerConfig": "attnkit.config",
    "VisionTransformerConfig": "attnkit.config",
    "load_run_config": "attnkit.config",
    "DecoderLM": "attnkit.models",
    "EncoderMLM": "attnkit.models",
    "ImageCaptioner": "attnkit.models",
    "RNNSeq2Seq": "attnkit.models",
    "EncoderDecoder": "attnkit.models",
    "Transformer": "attnkit.models",
    "VisionTransformer": "attnkit.models",
    "build_model": "attnkit.models",
    "mask_tokens": "attnkit.data.masking",
    "Attention": "attnkit.nn",
    "AttentionMaps": "attnkit.nn",
    "AttentionOutput": "attnkit.nn",
    "MultiHeadAttention": "attnkit.nn",
    "TransformerLayer": "attnkit.nn",
    "TransformerStack": "attnkit.nn",
    "attend": "attnkit.nn",
    "combine_masks": "attnkit.nn",
    "make_causal_mask": "attnkit.nn",
    "make_local_mask": "attnkit.nn",
    "make_padding_mask": "attnkit.nn",
    "make_score": "attnkit.nn",
    "caption": "attnkit.api",
    "classify": "attnkit.api",
    "embed": "attnkit.api",
    "evaluate": "attnkit.api",
    "fill_mask": "attnkit.api",
    "generate": "attnkit.api",
    "load_run": "attnkit.api",
    "train": "attnkit.api",
    "translate": "attnkit.api",
    "export_hf": "attnkit.interop",
    "import_hf": "attnkit.interop",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
