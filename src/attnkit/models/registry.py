"""Model families by name: ``kind`` in a config picks the class (a plain dict)."""

from __future__ import annotations

from torch import nn

from attnkit.config import ModelConfig
from attnkit.models.decoder_lm import DecoderLM
from attnkit.models.encoder import EncoderMLM
from attnkit.models.rnn_seq2seq import RNNSeq2Seq
from attnkit.models.seq2seq import EncoderDecoder
from attnkit.models.vision import ImageCaptioner, VisionTransformer

__all__ = ["MODELS", "build_model"]

MODELS: dict[str, type[nn.Module]] = {
    "decoder_lm": DecoderLM,
    "encoder": EncoderMLM,
    "seq2seq": EncoderDecoder,
    "rnn_seq2seq": RNNSeq2Seq,
    "vit": VisionTransformer,
    "captioner": ImageCaptioner,
}


def build_model(config: ModelConfig) -> nn.Module:
    """Build the model family named by ``config.kind`` with fresh weights."""
    return MODELS[config.kind](config)
