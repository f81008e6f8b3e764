"""Model families, one file each: encoder–decoder, decoder-only, encoder-only."""

from attnkit.models.decoder_lm import DecoderLM
from attnkit.models.encoder import EncoderMLM, mask_tokens
from attnkit.models.registry import MODELS, build_model
from attnkit.models.seq2seq import Transformer

__all__ = ["MODELS", "DecoderLM", "EncoderMLM", "Transformer", "build_model", "mask_tokens"]
