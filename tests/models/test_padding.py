"""Padding invariance: a padded batch gives each sequence the outputs it has alone.

Results must not depend on batch size or padding side (≤ 1e-5 on real positions), for
every positional scheme, and a loss over padded labels is the token-weighted mean of
the per-sequence losses — finite even when one row has no label at all.
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
from attnkit.nn import POSITIONAL_SCHEMES

V = 17
PAD = 0
TINY = {"d_model": 16, "num_heads": 2, "dropout": 0.0, "init_std": 0.1, "max_len": 32}
LENGTHS = (6, 3, 1, 5)


def _seqs(lengths=LENGTHS, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, V, (n,), generator=g) for n in lengths]


def _pad(seqs, side, value=PAD):
    """Stack 1-D sequences into (B, T) with ``value`` on the given side, plus the mask."""
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.bool)
    for row, s in enumerate(seqs):
        cols = slice(0, len(s)) if side == "right" else slice(width - len(s), width)
        tokens[row, cols], mask[row, cols] = s, True
    return tokens, mask


def _real(tensor, mask, row):
    """The real positions of one row, in order."""
    return tensor[row][mask[row]]


def _decoder_lm(positional, pad_id):
    torch.manual_seed(0)
    config = DecoderLMConfig(
        vocab_size=V, num_layers=2, positional=positional, pad_id=pad_id, **TINY
    )
    return DecoderLM(config).eval()


def _encoder(positional):
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=V, num_layers=2, positional=positional, pad_id=PAD, mask_id=1, **TINY
    )
    return EncoderMLM(config).eval()


def _seq2seq(positional):
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=V,
        tgt_vocab_size=V,
        num_encoder_layers=2,
        num_decoder_layers=2,
        positional=positional,
        pad_id=PAD,
        **TINY,
    )
    return Transformer(config).eval()


# ------------------------------------------------------------------ decoder-only


@pytest.mark.parametrize(
    "pad_id, pass_mask",
    [(None, True), (PAD, True), (PAD, False)],
    ids=["no_pad_id+mask", "pad_id+mask", "pad_id+inferred"],
)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_batch_equals_each_sequence_alone(positional, side, pad_id, pass_mask):
    model = _decoder_lm(positional, pad_id)
    seqs = _seqs()
    tokens, mask = _pad(seqs, side)
    out = model(tokens, padding_mask=mask if pass_mask else None)
    assert torch.isfinite(out.logits).all()
    for row, seq in enumerate(seqs):
        alone = model(seq[None]).logits[0]
        torch.testing.assert_close(_real(out.logits, mask, row), alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("positional", ["learned", "rope", "alibi"])
@torch.no_grad()
def test_decoder_lm_batch_with_need_weights_equals_alone(positional, side):
    model = _decoder_lm(positional, None)
    seqs = _seqs()
    tokens, mask = _pad(seqs, side)
    out = model(tokens, padding_mask=mask, need_weights=True)
    for row, seq in enumerate(seqs):
        alone = model(seq[None], need_weights=True).logits[0]
        torch.testing.assert_close(_real(out.logits, mask, row), alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("positional", ["learned", "relative", "rope"])
@torch.no_grad()
def test_decoder_lm_padded_loss_is_token_weighted_mean(positional, side):
    model = _decoder_lm(positional, PAD)
    seqs = _seqs(lengths=(6, 3, 4))
    tokens, mask = _pad(seqs, side)
    targets = tokens.roll(-1, dims=1).masked_fill(~mask | ~mask.roll(-1, dims=1), -100)
    targets[:, -1] = -100  # the roll wrapped around
    loss = model(tokens, labels=targets).loss
    total, count = 0.0, 0
    for row, seq in enumerate(seqs):
        alone = model(seq[None], labels=_real(targets, mask, row)[None]).loss
        n = int((targets[row] != -100).sum())
        total, count = total + float(alone) * n, count + n
    assert torch.isclose(loss, torch.tensor(total / count), atol=1e-5, rtol=0)


# ------------------------------------------------------------------ encoder-only


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_encoder_batch_equals_each_sequence_alone(positional, side):
    model = _encoder(positional)
    seqs = _seqs()
    tokens, mask = _pad(seqs, side)  # pad_id 0: the model finds the padding itself
    out = model(tokens)
    assert torch.isfinite(out.logits).all()
    for row, seq in enumerate(seqs):
        alone = model(seq[None]).logits[0]
        torch.testing.assert_close(_real(out.logits, mask, row), alone, atol=1e-5, rtol=0)


# ------------------------------------------------------------------ encoder–decoder


@pytest.mark.parametrize("src_side", ["right", "left"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_batch_equals_each_pair_alone(positional, src_side):
    model = _seq2seq(positional)
    srcs, tgts = _seqs(seed=1), _seqs(lengths=(2, 5, 4, 1), seed=2)
    src, _ = _pad(srcs, src_side)
    tgt, tgt_mask = _pad(tgts, "right")  # right padding sits in the future: no mask needed
    labels = tgt.masked_fill(~tgt_mask, -100)
    out = model(src, tgt, labels=labels)
    assert torch.isfinite(out.logits).all()
    total, count = 0.0, 0
    for row, (s, t) in enumerate(zip(srcs, tgts, strict=True)):
        alone = model(s[None], t[None], labels=t[None])
        torch.testing.assert_close(
            _real(out.logits, tgt_mask, row), alone.logits[0], atol=1e-5, rtol=0
        )
        total, count = total + float(alone.loss) * len(t), count + len(t)
    assert torch.isclose(out.loss, torch.tensor(total / count), atol=1e-5, rtol=0)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_left_padded_target_with_mask_equals_alone(positional):
    model = _seq2seq(positional)
    srcs, tgts = _seqs(seed=1), _seqs(lengths=(2, 5, 4, 1), seed=2)
    src, _ = _pad(srcs, "right")
    tgt, tgt_mask = _pad(tgts, "left")
    out = model(src, tgt, tgt_padding_mask=tgt_mask)
    assert torch.isfinite(out.logits).all()
    for row, (s, t) in enumerate(zip(srcs, tgts, strict=True)):
        alone = model(s[None], t[None]).logits[0]
        torch.testing.assert_close(_real(out.logits, tgt_mask, row), alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("positional", ["sinusoidal", "relative"])
@torch.no_grad()
def test_seq2seq_explicit_source_mask_equals_inferred(positional):
    model = _seq2seq(positional)
    src, src_mask = _pad(_seqs(seed=1), "left")
    tgt, _ = _pad(_seqs(seed=2), "right")
    inferred = model(src, tgt).logits
    explicit = model(src, tgt, src_padding_mask=src_mask).logits
    torch.testing.assert_close(explicit, inferred, atol=0, rtol=0)


# ------------------------------------------------------------------ all-padding label rows


@torch.no_grad()
def test_decoder_lm_loss_finite_with_an_all_ignored_row():
    model = _decoder_lm("learned", PAD)
    tokens = torch.randint(1, V, (3, 5), generator=torch.Generator().manual_seed(0))
    targets = tokens.roll(-1, dims=1)
    targets[1] = -100
    loss = model(tokens, labels=targets).loss
    assert torch.isfinite(loss)
    keep = torch.tensor([0, 2])
    expected = model(tokens[keep], labels=targets[keep]).loss
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=0)


@torch.no_grad()
def test_encoder_loss_finite_with_an_all_ignored_row():
    model = _encoder("learned")
    tokens, mask = _pad(_seqs(lengths=(5, 2, 4)), "right")
    labels = tokens.masked_fill(~mask, -100)
    labels[1] = -100
    loss = model(tokens, labels=labels).loss
    assert torch.isfinite(loss)


@torch.no_grad()
def test_seq2seq_loss_finite_with_an_all_padding_target_row():
    model = _seq2seq("sinusoidal")
    src, _ = _pad(_seqs(lengths=(4, 3, 2), seed=1), "right")
    tgt = torch.randint(1, V, (3, 4), generator=torch.Generator().manual_seed(3))
    tgt[1] = PAD
    labels = tgt.masked_fill(tgt == PAD, -100)
    out = model(src, tgt, labels=labels)
    assert torch.isfinite(out.loss)
    assert torch.isfinite(out.logits).all()


def test_gradients_finite_with_padding_and_an_all_ignored_row():
    model = _decoder_lm("rope", None).train()
    tokens, mask = _pad(_seqs(lengths=(5, 2, 4)), "left")
    targets = tokens.masked_fill(~mask, -100)
    targets[2] = -100
    model(tokens, labels=targets, padding_mask=mask, need_weights=True).loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
