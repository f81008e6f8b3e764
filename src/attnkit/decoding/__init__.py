"""Decoding algorithms; they talk to models through attnkit.protocols only."""

from attnkit.decoding.beam import BeamResult, beam_search
from attnkit.decoding.greedy import greedy_generate, greedy_translate
from attnkit.decoding.logits import (
    apply_temperature,
    check_sampling_args,
    top_k_filter,
    top_p_filter,
)
from attnkit.decoding.sampling import generate, next_token, stream
from attnkit.decoding.translate import sample_translate

__all__ = [
    # encoder–decoder
    "greedy_translate",
    "sample_translate",
    "beam_search",
    "BeamResult",
    # decoder-only
    "generate",
    "stream",
    "greedy_generate",
    # logits processors
    "next_token",
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "check_sampling_args",
]
