"""Building blocks: masks, score functions, attention, positions, layers and stacks.

Blocks take plain keyword arguments (like ``torch.nn``) and never see a config object.
"""

from attnkit.nn.attention import Attention, AttentionOutput, MultiHeadAttention, attend
from attnkit.nn.cache import KVCache, RecurrentCache, StackCache
from attnkit.nn.embeddings import (
    COMBINE_MODES,
    PATCH_STEMS,
    InputEmbedding,
    PatchEmbedding,
    check_tokens,
)
from attnkit.nn.feedforward import ACTIVATIONS, FeedForward
from attnkit.nn.init import init_transformer_weights
from attnkit.nn.layers import LayerOutput, TransformerLayer
from attnkit.nn.masks import (
    check_key_padding_mask,
    check_mask,
    combine_masks,
    key_padding_to_attn_mask,
    make_causal_mask,
    make_local_mask,
    make_padding_mask,
    padding_mask_from_lengths,
)
from attnkit.nn.norms import NORMS, make_norm
from attnkit.nn.outputs import AttentionMaps, EncoderOutput, ModelOutput
from attnkit.nn.positional import (
    ABSOLUTE_SCHEMES,
    ATTENTION_SCHEMES,
    POSITIONAL_SCHEMES,
    ALiBiBias,
    LearnedPositionEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalEncoding,
    apply_rotary,
    make_positions,
)
from attnkit.nn.scores import (
    SCORE_FUNCTIONS,
    AdditiveScore,
    DotScore,
    GeneralScore,
    ScaledDotScore,
    make_score,
)
from attnkit.nn.stacks import StackOutput, TransformerStack

__all__ = [
    "ABSOLUTE_SCHEMES",
    "ACTIVATIONS",
    "ATTENTION_SCHEMES",
    "COMBINE_MODES",
    "NORMS",
    "PATCH_STEMS",
    "POSITIONAL_SCHEMES",
    "SCORE_FUNCTIONS",
    "ALiBiBias",
    "AdditiveScore",
    "AttentionMaps",
    "Attention",
    "AttentionOutput",
    "DotScore",
    "EncoderOutput",
    "FeedForward",
    "GeneralScore",
    "InputEmbedding",
    "KVCache",
    "LayerOutput",
    "LearnedPositionEmbedding",
    "ModelOutput",
    "PatchEmbedding",
    "MultiHeadAttention",
    "RecurrentCache",
    "RelativePositionBias",
    "RotaryEmbedding",
    "ScaledDotScore",
    "SinusoidalEncoding",
    "StackCache",
    "StackOutput",
    "TransformerLayer",
    "TransformerStack",
    "apply_rotary",
    "attend",
    "check_key_padding_mask",
    "check_mask",
    "check_tokens",
    "combine_masks",
    "init_transformer_weights",
    "key_padding_to_attn_mask",
    "make_causal_mask",
    "make_local_mask",
    "make_norm",
    "make_padding_mask",
    "make_positions",
    "make_score",
    "padding_mask_from_lengths",
]
