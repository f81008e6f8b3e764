"""Causality: a decoder's output at position t depends on tokens ≤ t only.

Changing token t+1 must leave every logit at positions ≤ t unchanged (a flipped mask
polarity or an off-by-one breaks this) and must change something at t+1 or later (the
test would pass vacuously on a model that ignores its input). Encoders see both sides.
"""

import pytest
import torch

from attnkit import (
    DecoderLM,
    DecoderLMConfig,
    EncoderConfig,
    EncoderMLM,
    Seq2SeqConfig,
    Transformer,
)
from attnkit.nn import POSITIONAL_SCHEMES, SCORE_FUNCTIONS

V = 13
T = 7
TINY = {"d_model": 16, "num_heads": 2, "dropout": 0.0, "init_std": 0.1, "max_len": 32}


def _decoder_lm(positional, score, **extra):
    torch.manual_seed(0)
    config = DecoderLMConfig(
        vocab_size=V, num_layers=2, positional=positional, score=score, **TINY, **extra
    )
    return DecoderLM(config).eval()


def _seq2seq(positional, score):
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=V,
        tgt_vocab_size=V,
        num_encoder_layers=1,
        num_decoder_layers=2,
        positional=positional,
        score=score,
        **TINY,
    )
    return Transformer(config).eval()


def _encoder(positional, score):
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=V, num_layers=2, positional=positional, score=score, mask_id=1, **TINY
    )
    return EncoderMLM(config).eval()


def _tokens(batch, length, seed=1):
    """Ids in [1, V): never the padding id 0."""
    return torch.randint(1, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def _change(tokens, position):
    """A copy of ``tokens`` with a different non-padding id at ``position`` in every row."""
    changed = tokens.clone()
    changed[:, position] = changed[:, position] % (V - 1) + 1
    assert (changed[:, position] != tokens[:, position]).all()
    return changed


def _assert_causal(logits_fn, tokens):
    before = logits_fn(tokens)
    for t in (0, T // 2, T - 2):
        after = logits_fn(_change(tokens, t + 1))
        torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-6, rtol=0)
        assert (after[:, t + 1 :] - before[:, t + 1 :]).abs().max() > 1e-4, (
            f"changing token {t + 1} changed nothing after it"
        )


@pytest.mark.parametrize("need_weights", [False, True], ids=["fused", "weights"])
@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_is_causal(positional, score, need_weights):
    model = _decoder_lm(positional, score)
    _assert_causal(lambda x: model(x, need_weights=need_weights).logits, _tokens(2, T))


@pytest.mark.parametrize("need_weights", [False, True], ids=["fused", "weights"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_is_causal_with_explicit_padding_mask(positional, need_weights):
    # An all-True padding mask forces the materialised causal mask instead of is_causal.
    model = _decoder_lm(positional, "scaled_dot")
    ones = torch.ones(2, T, dtype=torch.bool)
    _assert_causal(
        lambda x: model(x, padding_mask=ones, need_weights=need_weights).logits, _tokens(2, T)
    )


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_with_pad_id_is_causal(positional):
    # pad_id set: the model builds a padding mask itself (no padding in the input).
    model = _decoder_lm(positional, "scaled_dot", pad_id=0)
    _assert_causal(lambda x: model(x).logits, _tokens(2, T))


@pytest.mark.parametrize("need_weights", [False, True], ids=["fused", "weights"])
@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_decoder_is_causal(positional, score, need_weights):
    model = _seq2seq(positional, score)
    src = _tokens(2, 5, seed=2)
    _assert_causal(lambda y: model(src, y, need_weights=need_weights).logits, _tokens(2, T))


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_encoder_is_bidirectional(positional):
    model = _seq2seq(positional, "scaled_dot")
    src, tgt = _tokens(2, 6, seed=2), _tokens(2, T)
    changed = _change(src, 5)  # the last source token
    memory = model.encode(src).memory
    memory_changed = model.encode(changed).memory
    assert (memory_changed[:, 0] - memory[:, 0]).abs().max() > 1e-4
    logits = model(src, tgt).logits
    logits_changed = model(changed, tgt).logits
    # every target position attends over the whole source, so the first one changes too
    assert (logits_changed[:, 0] - logits[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_encoder_mlm_is_bidirectional(positional, score):
    model = _encoder(positional, score)
    tokens = _tokens(2, T)
    logits = model(tokens).logits
    changed = model(_change(tokens, T - 1)).logits
    assert (changed[:, 0] - logits[:, 0]).abs().max() > 1e-4
    changed_first = model(_change(tokens, 0)).logits
    assert (changed_first[:, -1] - logits[:, -1]).abs().max() > 1e-4


def test_decoder_lm_with_causal_false_sees_the_future_and_keeps_its_weights():
    """The ``masking`` lab ablation: ``causal=False`` lets position 0 read later tokens;
    the same weights in a causal model give the causal outputs again."""
    tokens = torch.randint(V, (1, T), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[0, -1] = (changed[0, -1] + 1) % V
    cheat = _decoder_lm("sinusoidal", "scaled_dot", causal=False)
    with torch.no_grad():
        assert not torch.allclose(cheat(tokens).logits[0, 0], cheat(changed).logits[0, 0])
        honest = _decoder_lm("sinusoidal", "scaled_dot")
        honest.load_state_dict(cheat.state_dict())
        assert torch.equal(honest(tokens).logits[0, 0], honest(changed).logits[0, 0])
