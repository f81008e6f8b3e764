"""The speed seam changes how attnkit computes, never what: every fast implementation
(:mod:`attnkit.nn.fast`) against the reference it replaces, in one process, by switching
the seam with :func:`attnkit.nn.fast.reference_mode`.

Values and gradients are compared with dropout off (the fast CPU dropout draws its masks
differently by design; ``test_fused_losses_dropout.py`` checks its statistics).
"""

from __future__ import annotations

import itertools

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
from attnkit.decoding import beam_search, greedy_generate, greedy_translate
from attnkit.nn import fast, make_score
from attnkit.nn.attention import attend

ATOL = 1e-5
B, H, TQ, TK, DH = 4, 4, 5, 7, 8


def _both(fn):
    """``fn()`` with the seam on, then off (the reference)."""
    with fast.reference_mode(False):
        fast_result = fn()
    with fast.reference_mode(True):
        reference_result = fn()
    return fast_result, reference_result


def _mask(kind: str) -> torch.Tensor | None:
    g = torch.Generator().manual_seed(3)
    if kind == "none":
        return None
    if kind == "padding":  # (B, 1, 1, Tk): the last keys of some rows are padding
        lengths = torch.tensor([TK, 3, 5, 1])
        return (torch.arange(TK)[None, :] < lengths[:, None])[:, None, None, :]
    if kind == "random":  # (B, 1, Tq, Tk) with some empty query rows
        mask = torch.rand(B, 1, TQ, TK, generator=g) > 0.5
        mask[0, 0, 1] = False  # a row that may attend to nothing
        return mask
    raise ValueError(kind)


CASES = list(
    itertools.product(
        ("scaled_dot", "dot", "general", "additive"),
        ("none", "padding", "random"),
        (False, True),  # position bias
        (H, 2),  # key/value heads
        (False, True),  # need_weights
    )
)


@pytest.mark.parametrize(("score_name", "mask", "bias", "kv_heads", "need_weights"), CASES)
def test_attend_fast_equals_reference_values_and_gradients(
    score_name, mask, bias, kv_heads, need_weights
):
    torch.manual_seed(0)
    score = make_score(score_name, DH, num_heads=H)
    q = torch.randn(B, H, TQ, DH, requires_grad=True)
    k = torch.randn(B, kv_heads, TK, DH, requires_grad=True)
    v = torch.randn(B, kv_heads, TK, DH, requires_grad=True)
    position_bias = torch.randn(1, H, TQ, TK) if bias else None
    attn_mask = _mask(mask)

    def run():
        out, weights = attend(
            q,
            k,
            v,
            score=score,
            attn_mask=attn_mask,
            bias=position_bias,
            need_weights=need_weights,
        )
        grads = torch.autograd.grad(out.square().sum(), (q, k, v))
        return out.detach(), weights, grads

    (out_f, w_f, g_f), (out_r, w_r, g_r) = _both(run)
    torch.testing.assert_close(out_f, out_r, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(w_f, w_r, atol=ATOL, rtol=0)
    for a, b in zip(g_f, g_r, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("causal_queries", [TQ, 1])
def test_attend_causal_fast_equals_reference(causal_queries):
    torch.manual_seed(1)
    score = make_score("scaled_dot", DH, num_heads=H)
    q = torch.randn(B, H, causal_queries, DH)
    k, v = torch.randn(B, H, TK, DH), torch.randn(B, H, TK, DH)
    fast_out, ref_out = _both(lambda: attend(q, k, v, score=score, is_causal=True)[0])
    torch.testing.assert_close(fast_out, ref_out, atol=ATOL, rtol=0)


@pytest.mark.parametrize("need_weights", [False, True])
def test_attend_rows_sharing_a_key_row_fast_equals_reference(need_weights):
    """Beams sharing their sentence's source: folded rows (fast) against one copy of the
    keys per query row (reference)."""
    torch.manual_seed(2)
    score = make_score("scaled_dot", DH, num_heads=H)
    q = torch.randn(6, H, 1, DH)  # 2 sentences × 3 beams
    k, v = torch.randn(2, H, TK, DH), torch.randn(2, H, TK, DH)
    mask = torch.tensor([[True] * TK, [True] * 4 + [False] * 3])[:, None, None, :]
    (out_f, w_f), (out_r, w_r) = _both(
        lambda: attend(q, k, v, score=score, attn_mask=mask, need_weights=need_weights)
    )
    torch.testing.assert_close(out_f, out_r, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(w_f, w_r, atol=ATOL, rtol=0)


# ------------------------------------------------------------------ whole models

TINY = {"d_model": 16, "num_heads": 4, "dropout": 0.0, "init_std": 0.2, "max_len": 32}


def _models():
    torch.manual_seed(0)
    lm = DecoderLM(DecoderLMConfig(vocab_size=19, num_layers=2, pad_id=0, **TINY))
    torch.manual_seed(0)
    mlm = EncoderMLM(EncoderConfig(vocab_size=19, num_layers=2, pad_id=0, mask_id=1, **TINY))
    torch.manual_seed(0)
    seq2seq = Transformer(
        Seq2SeqConfig(
            src_vocab_size=19,
            tgt_vocab_size=17,
            num_encoder_layers=2,
            num_decoder_layers=2,
            pad_id=0,
            positional="relative",
            **TINY,
        )
    )
    return lm, mlm, seq2seq


def _inputs(name: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    tokens = torch.randint(2, 17, (3, 9), generator=g)
    tokens[1, -3:] = 0  # padding
    labels = torch.randint(2, 17, (3, 9), generator=g)
    labels[1, -3:] = -100
    if name == "seq2seq":
        return {"src": tokens, "tgt": tokens[:, :7], "labels": labels[:, :7]}
    if name == "mlm":
        labels[:, ::2] = -100  # only some positions are predicted
    return {"tokens": tokens, "labels": labels}


@pytest.mark.parametrize("index,name", [(0, "lm"), (1, "mlm"), (2, "seq2seq")])
def test_model_loss_and_gradients_fast_equal_reference(index, name):
    """The training forward and backward of each family: fused loss, fast attention,
    cache-free masks against the reference path."""

    def run():
        model = _models()[index].train()
        out = model(**_inputs(name), label_smoothing=0.1)
        (out.loss_sum / out.token_count).backward()
        return out.loss.detach(), [p.grad.clone() for p in model.parameters()]

    (loss_f, grads_f), (loss_r, grads_r) = _both(run)
    torch.testing.assert_close(loss_f, loss_r, atol=1e-6, rtol=1e-6)
    for a, b in zip(grads_f, grads_r, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_decoding_fast_equals_reference():
    """Greedy and beam decoding (lean step, CPU threads, shared source rows) produce the
    same tokens and scores as the reference layers."""
    lm, _, seq2seq = _models()
    lm.eval()
    seq2seq.eval()
    prompt = torch.randint(2, 17, (2, 4), generator=torch.Generator().manual_seed(6))
    src = torch.randint(2, 17, (3, 6), generator=torch.Generator().manual_seed(7))
    src[2, -2:] = 0

    def run():
        generated = greedy_generate(lm, prompt, max_new_tokens=8)
        greedy = greedy_translate(seq2seq, src, bos_id=1, eos_id=2, max_len=10, pad_id=0)
        beams = beam_search(
            seq2seq, src, beam_size=3, max_len=10, bos_id=1, eos_id=2, pad_id=0, n_best=2
        )
        return generated, greedy, beams

    (gen_f, greedy_f, beam_f), (gen_r, greedy_r, beam_r) = _both(run)
    assert torch.equal(gen_f, gen_r)
    assert torch.equal(greedy_f, greedy_r)
    assert beam_f.tokens == beam_r.tokens
    torch.testing.assert_close(beam_f.scores, beam_r.scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(beam_f.log_probs, beam_r.log_probs, atol=1e-5, rtol=0)
