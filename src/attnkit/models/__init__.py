"""Model families, one file each: encoder–decoder, decoder-only, encoder-only, and the
recurrent encoder–decoders they replaced."""

from attnkit.models.decoder_lm import DecoderLM
from attnkit.models.encoder import EncoderMLM
from attnkit.models.registry import MODELS, build_model
from attnkit.models.rnn_seq2seq import RNNSeq2Seq
from attnkit.models.seq2seq import EncoderDecoder, Transformer
from attnkit.models.vision import ImageCaptioner, VisionTransformer

__all__ = [
    "MODELS",
    "DecoderLM",
    "EncoderMLM",
    "ImageCaptioner",
    "RNNSeq2Seq",
    "EncoderDecoder",
    "Transformer",
    "VisionTransformer",
    "build_model",
]
