"""int8 dynamic quantization: a faithful, independent copy that decodes like the fp32
model up to int8 rounding, through the same decoding functions."""

import pytest
import torch
from torch import nn

from attnkit import DecoderLM, DecoderLMConfig, Seq2SeqConfig, Transformer
from attnkit.decoding import beam_search, greedy_generate
from attnkit.nn.fast.lean_step import built_for
from attnkit.nn.quantization import quantize_int8

V = 40


def _lm():
    torch.manual_seed(0)
    config = DecoderLMConfig(vocab_size=V, d_model=32, num_heads=4, num_layers=2, dropout=0.0)
    return DecoderLM(config).eval()


def test_every_linear_becomes_int8_and_the_original_is_untouched():
    model = _lm()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize_int8(model)
    assert not any(type(m) is nn.Linear for m in quantized.modules())
    linears = [m for m in model.modules() if type(m) is nn.Linear]
    assert linears and all(type(m) is nn.Linear for m in linears)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not quantized.training


@torch.no_grad()
def test_int8_logits_stay_close_to_fp32():
    model = _lm()
    tokens = torch.randint(0, V, (3, 12), generator=torch.Generator().manual_seed(1))
    exact = model(tokens).logits
    approx = quantize_int8(model)(tokens).logits
    error = (approx - exact).norm() / exact.norm()
    assert 0 < error < 0.05, f"relative error {error:.4f}"  # int8 rounding: small, not zero


@torch.no_grad()
def test_int8_cached_decoding_equals_its_own_full_forward():
    quantized = quantize_int8(_lm())
    prompt = torch.randint(0, V, (2, 4), generator=torch.Generator().manual_seed(2))
    out = greedy_generate(quantized, prompt, max_new_tokens=6)
    cache = quantized.new_cache()
    quantized.decode_step(prompt, cache)
    assert not built_for(cache)  # int8 layers take the layers' path
    for t in range(prompt.shape[1], out.shape[1]):
        logits = quantized(out[:, :t]).logits[:, -1]
        assert torch.equal(logits.argmax(-1), out[:, t])


def test_int8_beam_search_runs_and_matches_fp32_on_a_confident_model():
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=V,
        tgt_vocab_size=V,
        d_model=32,
        num_heads=4,
        num_encoder_layers=1,
        num_decoder_layers=2,
        d_ff=64,
        dropout=0.0,
        init_std=0.3,
        tie_embeddings=True,
        share_embeddings=True,
    )
    model = Transformer(config).eval()
    src = torch.randint(3, V, (3, 7), generator=torch.Generator().manual_seed(3))
    options = dict(beam_size=3, max_len=6, bos_id=1, eos_id=2, pad_id=0)
    exact = beam_search(model, src, **options)
    approx = beam_search(quantize_int8(model), src, **options)
    assert approx.scores.shape == exact.scores.shape
    torch.testing.assert_close(approx.log_probs, exact.log_probs, atol=0.15, rtol=0.05)


def test_a_model_not_on_the_cpu_is_a_clear_error():
    with pytest.raises(ValueError, match=r"CPU only.*meta"):
        quantize_int8(nn.Linear(4, 4, device="meta"))
