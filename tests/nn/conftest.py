"""Shared fixtures for the ``attnkit.nn`` tests: seeding and weight copying from the
``torch.nn`` reference modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from attnkit.nn import MultiHeadAttention, TransformerLayer


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _randomize(module: nn.Module, std: float = 0.3) -> None:
    """Give every parameter (norm weights and biases too) a distinct random value, so a
    test also catches weights copied to the wrong place."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.normal_(0.0, std)
            if "norm" in name and name.endswith("weight"):
                param.add_(1.0)  # norm gains around 1, each one different


def _copy_mha(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    """Copy ``torch.nn.MultiheadAttention`` weights into ours (packed or split in-proj)."""
    with torch.no_grad():
        if ref.in_proj_weight is not None:
            wq, wk, wv = ref.in_proj_weight.chunk(3)
        else:
            wq, wk, wv = ref.q_proj_weight, ref.k_proj_weight, ref.v_proj_weight
        bq, bk, bv = ref.in_proj_bias.chunk(3)
        for proj, weight, bias in (
            (ours.q_proj, wq, bq),
            (ours.k_proj, wk, bk),
            (ours.v_proj, wv, bv),
            (ours.out_proj, ref.out_proj.weight, ref.out_proj.bias),
        ):
            assert proj.weight.shape == weight.shape
            proj.weight.copy_(weight)
            proj.bias.copy_(bias)


def _copy_linear(ours: nn.Module, ref: nn.Module) -> None:
    with torch.no_grad():
        assert ours.weight.shape == ref.weight.shape
        ours.weight.copy_(ref.weight)
        if ref.bias is not None:
            ours.bias.copy_(ref.bias)


def _copy_encoder_layer(ours: TransformerLayer, ref: nn.TransformerEncoderLayer) -> None:
    _copy_mha(ours.self_attn, ref.self_attn)
    _copy_linear(ours.ffn.fc1, ref.linear1)
    _copy_linear(ours.ffn.fc2, ref.linear2)
    _copy_linear(ours.self_attn_norm, ref.norm1)
    _copy_linear(ours.ffn_norm, ref.norm2)


def _copy_decoder_layer(ours: TransformerLayer, ref: nn.TransformerDecoderLayer) -> None:
    _copy_mha(ours.self_attn, ref.self_attn)
    _copy_mha(ours.cross_attn, ref.multihead_attn)
    _copy_linear(ours.ffn.fc1, ref.linear1)
    _copy_linear(ours.ffn.fc2, ref.linear2)
    _copy_linear(ours.self_attn_norm, ref.norm1)
    _copy_linear(ours.cross_attn_norm, ref.norm2)
    _copy_linear(ours.ffn_norm, ref.norm3)


@pytest.fixture
def randomize() -> Callable[..., None]:
    return _randomize


@pytest.fixture
def copy_mha() -> Callable[[MultiHeadAttention, nn.MultiheadAttention], None]:
    return _copy_mha


@pytest.fixture
def copy_linear() -> Callable[[nn.Module, nn.Module], None]:
    return _copy_linear


@pytest.fixture
def copy_encoder_layer() -> Callable[[TransformerLayer, nn.TransformerEncoderLayer], None]:
    return _copy_encoder_layer


@pytest.fixture
def copy_decoder_layer() -> Callable[[TransformerLayer, nn.TransformerDecoderLayer], None]:
    return _copy_decoder_layer
