"""Analytic FLOP counts (matrix multiplications only; 1 multiply-add = 2 FLOPs).

Elementwise work (softmax, norms, activations, dropout, the optimizer) is left out: it
is a few per cent of the multiply-adds at these sizes, and leaving it out makes the
"fraction of GEMM peak" an honest upper bound on how busy the matrix units were.
Attention scores are counted in full (``Q Kᵀ`` and ``A V`` over every key), not halved
for causal masks, because the kernels compute the masked half too. A training step
costs three forward passes' worth: the forward, and the backward's two products per
matrix multiplication (gradient of the input and of the weight).
"""

from __future__ import annotations

__all__ = ["decoder_lm_forward", "encoder_decoder_forward", "TRAIN_FACTOR"]

TRAIN_FACTOR = 3  # forward + backward (input and weight gradients)


def _layer(tokens: int, keys: int, d_model: int, d_ff: int, *, projections: int = 4) -> float:
    """One attention sublayer (``projections`` D×D matrices) + one feed-forward, per
    sequence of ``tokens`` queries attending over ``keys`` keys."""
    dense = 2 * tokens * d_model * d_model * projections
    scores = 2 * 2 * tokens * keys * d_model  # Q Kᵀ and A V, summed over heads
    ffn = 2 * 2 * tokens * d_model * d_ff
    return dense + scores + ffn


def encoder_decoder_forward(
    *,
    batch: int,
    src_len: int,
    tgt_len: int,
    d_model: int,
    d_ff: int,
    num_layers: int,
    vocab_size: int,
) -> float:
    """Forward FLOPs of an encoder–decoder Transformer (``num_layers`` each side)."""
    encoder = num_layers * _layer(src_len, src_len, d_model, d_ff)
    self_attn = _layer(tgt_len, tgt_len, d_model, d_ff)
    # Cross-attention: Q and output projections per target token, K and V per source
    # token, scores of every target token over every source token.
    cross = (
        2 * d_model * d_model * (2 * tgt_len + 2 * src_len) + 2 * 2 * tgt_len * src_len * d_model
    )
    decoder = num_layers * (self_attn + cross)
    output = 2 * tgt_len * d_model * vocab_size
    return batch * (encoder + decoder + output)


def decoder_lm_forward(
    *, batch: int, length: int, d_model: int, d_ff: int, num_layers: int, vocab_size: int
) -> float:
    """Forward FLOPs of a decoder-only language model over ``length`` tokens."""
    layers = num_layers * _layer(length, length, d_model, d_ff)
    return batch * (layers + 2 * length * d_model * vocab_size)
