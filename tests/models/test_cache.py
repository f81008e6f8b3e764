"""Incremental decoding with the key/value cache gives the full forward's logits.

Caches usually break where positions enter: RoPE offsets, relative/ALiBi biases, left
padding. Every positional scheme is checked, with grouped-query attention and with
concatenated positions too, and ``StackCache.reorder`` (beam search) is checked against
a cache built from the selected rows.
"""

import pytest
import torch

from attnkit import DecoderLM, DecoderLMConfig, Seq2SeqConfig, Transformer
from attnkit.nn import POSITIONAL_SCHEMES

V = 19
PAD = 0
ATOL = 1e-5
TINY = {"d_model": 16, "num_heads": 4, "dropout": 0.0, "init_std": 0.1, "max_len": 32}

VARIANTS = (
    [pytest.param(p, {}, id=f"{p}") for p in POSITIONAL_SCHEMES]
    + [pytest.param(p, {"score": "general"}, id=f"{p}-general") for p in POSITIONAL_SCHEMES]
    + [pytest.param(p, {"num_kv_heads": 1}, id=f"{p}-gqa") for p in POSITIONAL_SCHEMES]
    + [
        pytest.param(p, {"pos_combine": "concat", "tie_embeddings": False}, id=f"{p}-concat")
        for p in ("sinusoidal", "learned")
    ]
)


def _tokens(batch, length, seed=0):
    return torch.randint(1, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def _decoder_lm(positional, **extra):
    torch.manual_seed(0)
    config = DecoderLMConfig(vocab_size=V, num_layers=2, positional=positional, **{**TINY, **extra})
    return DecoderLM(config).eval()


def _seq2seq(positional, **extra):
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=V,
        tgt_vocab_size=V,
        num_encoder_layers=1,
        num_decoder_layers=2,
        positional=positional,
        pad_id=PAD,
        **{**TINY, **extra},
    )
    return Transformer(config).eval()


def _lm_incremental(model, tokens, prompt, *, padding_mask=None):
    """Prompt chunk, then one token at a time; all logits concatenated along time."""
    cache = model.new_cache()
    steps = [model.decode_step(tokens[:, :prompt], cache, padding_mask=padding_mask)]
    for t in range(prompt, tokens.shape[1]):
        steps.append(model.decode_step(tokens[:, t : t + 1], cache))
        assert len(cache) == t + 1
    return torch.cat(steps, dim=1), cache


# ------------------------------------------------------------------ decoder-only


@pytest.mark.parametrize("positional, extra", VARIANTS)
@torch.no_grad()
def test_decoder_lm_cache_equals_full_forward(positional, extra):
    model = _decoder_lm(positional, **extra)
    tokens = _tokens(2, 9)
    full = model(tokens).logits
    incremental, cache = _lm_incremental(model, tokens, prompt=4)
    torch.testing.assert_close(incremental, full, atol=ATOL, rtol=0)
    assert len(cache) == 9
    assert full.argmax(-1).equal(incremental.argmax(-1))


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_cache_one_token_at_a_time_from_the_start(positional):
    model = _decoder_lm(positional)
    tokens = _tokens(3, 6, seed=4)
    incremental, _ = _lm_incremental(model, tokens, prompt=1)
    torch.testing.assert_close(incremental, model(tokens).logits, atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_cache_with_several_chunks(positional):
    model = _decoder_lm(positional)
    tokens = _tokens(2, 10, seed=5)
    cache = model.new_cache()
    chunks = [model.decode_step(tokens[:, a:b], cache) for a, b in ((0, 3), (3, 7), (7, 10))]
    torch.testing.assert_close(torch.cat(chunks, 1), model(tokens).logits, atol=ATOL, rtol=0)


@pytest.mark.parametrize("pad_id", [None, PAD], ids=["mask", "pad_id"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_cache_with_left_padded_prompts(positional, pad_id):
    model = _decoder_lm(positional, pad_id=pad_id)
    lengths, prompt_len, new = (4, 2, 1), 4, 4
    prompts = [_tokens(1, n, seed=10 + i)[0] for i, n in enumerate(lengths)]
    prompt = torch.full((3, prompt_len), PAD, dtype=torch.long)
    for row, p in enumerate(prompts):
        prompt[row, prompt_len - len(p) :] = p
    prompt_mask = prompt != PAD
    continuation = _tokens(3, new, seed=20)
    tokens = torch.cat([prompt, continuation], dim=1)
    mask = torch.cat([prompt_mask, torch.ones(3, new, dtype=torch.bool)], dim=1)

    full = model(tokens, padding_mask=mask).logits
    incremental, _ = _lm_incremental(model, tokens, prompt_len, padding_mask=prompt_mask)
    torch.testing.assert_close(incremental[mask], full[mask], atol=ATOL, rtol=0)
    # ... and both equal each sequence decoded alone, without padding
    for row, p in enumerate(prompts):
        alone = model(torch.cat([p, continuation[row]])[None]).logits[0]
        torch.testing.assert_close(incremental[row][mask[row]], alone, atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_cache_records_positions_and_padding(positional):
    model = _decoder_lm(positional)
    prompt = torch.tensor([[PAD, PAD, 3, 4], [5, 6, 7, 8]])
    cache = model.new_cache()
    model.decode_step(prompt, cache, padding_mask=prompt != PAD)
    model.decode_step(torch.tensor([[9], [9]]), cache)
    assert cache.padding_mask.tolist() == [[False, False, True, True, True], [True] * 5]
    assert model.decoder.make_positions(1, cache=cache)[:, -1].tolist() == [3, 5]  # next step
    if model.decoder.position_bias is not None:  # key positions kept for the bias only
        assert cache.positions[:, -1].tolist() == [2, 4]
    else:
        assert cache.positions is None
    for layer in cache.self_attn:
        assert layer.keys.shape == (2, 4, 5, 4)  # (B, Hkv, T, Dh)


# ------------------------------------------------------------------ encoder–decoder


class _CallCounter:
    def __init__(self, modules):
        self.calls = 0
        self.handles = [m.register_forward_hook(self._hook) for m in modules]

    def _hook(self, module, args, output):
        self.calls += 1

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _seq2seq_incremental(model, encoded, tgt):
    cache = model.new_cache()
    steps = []
    for t in range(tgt.shape[1]):
        steps.append(model.decode_step(tgt[:, t : t + 1], encoded, cache))
    return torch.cat(steps, dim=1), cache


@pytest.mark.parametrize("positional, extra", VARIANTS)
@torch.no_grad()
def test_seq2seq_cache_equals_full_forward(positional, extra):
    model = _seq2seq(positional, **extra)
    src = _tokens(2, 6, seed=1)
    src[1, 4:] = PAD  # one right-padded source
    tgt = _tokens(2, 7, seed=2)
    full = model(src, tgt).logits
    encoded = model.encode(src)
    torch.testing.assert_close(model.decode(tgt, encoded).logits, full, atol=0, rtol=0)
    incremental, cache = _seq2seq_incremental(model, encoded, tgt)
    torch.testing.assert_close(incremental, full, atol=ATOL, rtol=0)
    assert len(cache) == 7


@pytest.mark.parametrize("positional", ["learned", "rope", "relative", "alibi"])
@torch.no_grad()
def test_seq2seq_left_padded_source_cache_equals_full_forward(positional):
    model = _seq2seq(positional)
    src = _tokens(2, 6, seed=1)
    src[0, :3] = PAD
    tgt = _tokens(2, 5, seed=2)
    encoded = model.encode(src)
    incremental, _ = _seq2seq_incremental(model, encoded, tgt)
    torch.testing.assert_close(incremental, model(src, tgt).logits, atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_source_keys_are_projected_once(positional):
    model = _seq2seq(positional)
    src, tgt = _tokens(2, 6, seed=1), _tokens(2, 5, seed=2)
    layers = model.decoder.layers
    cross_k = _CallCounter([layer.cross_attn.k_proj for layer in layers])
    cross_v = _CallCounter([layer.cross_attn.v_proj for layer in layers])
    self_attn = _CallCounter([layer.self_attn for layer in layers])
    encoder_calls = _CallCounter([model.encoder])
    try:
        encoded = model.encode(src)
        cache = model.new_cache()
        assert not any(c.filled for c in cache.cross_attn)
        model.decode_step(tgt[:, :1], encoded, cache)
        assert len(cache.cross_attn) == len(layers)
        assert all(c.filled for c in cache.cross_attn)
        assert all(c.keys.shape[-2] == src.shape[1] for c in cache.cross_attn)
        first_keys = [c.keys for c in cache.cross_attn]
        assert cross_k.calls == len(layers)
        for t in range(1, tgt.shape[1]):
            model.decode_step(tgt[:, t : t + 1], encoded, cache)
        assert cross_k.calls == len(layers), "cross-attention keys recomputed after step 1"
        assert cross_v.calls == len(layers), "cross-attention values recomputed after step 1"
        assert self_attn.calls == len(layers) * tgt.shape[1]
        assert all(len(c) == tgt.shape[1] for c in cache.self_attn)  # one new key per step
        assert encoder_calls.calls == 1
        assert all(c.keys is k for c, k in zip(cache.cross_attn, first_keys, strict=True))
    finally:
        for counter in (cross_k, cross_v, self_attn, encoder_calls):
            counter.remove()


def test_decoder_lm_new_cache_is_empty_and_self_only():
    model = _decoder_lm("rope")
    cache = model.new_cache()
    assert len(cache) == 0
    assert cache.cross_attn == []
    assert len(cache.self_attn) == 2
    assert cache.positions is None and cache.padding_mask is None


# ------------------------------------------------------------------ reorder (beam search)

INDEX = torch.tensor([2, 0, 2, 1])  # duplicates and a permutation, as beam search makes


@pytest.mark.parametrize("steps_before", [0, 2], ids=["after_prompt", "mid_decode"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_decoder_lm_reorder_selects_rows(positional, steps_before):
    model = _decoder_lm(positional)
    tokens = _tokens(3, 8, seed=6)
    prompt = 3
    split = prompt + steps_before

    cache = model.new_cache()
    model.decode_step(tokens[:, :prompt], cache)
    for t in range(prompt, split):
        model.decode_step(tokens[:, t : t + 1], cache)
    cache.reorder(INDEX)
    assert cache.self_attn[0].keys.shape[0] == len(INDEX)

    selected = tokens[INDEX]
    reference = model.new_cache()
    model.decode_step(selected[:, :prompt], reference)
    for t in range(prompt, split):
        model.decode_step(selected[:, t : t + 1], reference)

    for t in range(split, tokens.shape[1]):
        got = model.decode_step(selected[:, t : t + 1], cache)
        want = model.decode_step(selected[:, t : t + 1], reference)
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    full = model(selected).logits[:, split:]
    torch.testing.assert_close(got, full[:, -1:], atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", ["learned", "rope", "alibi"])
@torch.no_grad()
def test_decoder_lm_reorder_with_left_padded_prompts(positional):
    model = _decoder_lm(positional)
    prompt = torch.tensor([[PAD, PAD, 3, 4], [5, 6, 7, 8], [PAD, 9, 10, 11]])
    mask = prompt != PAD
    cache = model.new_cache()
    model.decode_step(prompt, cache, padding_mask=mask)
    cache.reorder(INDEX)
    reference = model.new_cache()
    model.decode_step(prompt[INDEX], reference, padding_mask=mask[INDEX])
    nxt = _tokens(len(INDEX), 3, seed=7)
    for t in range(3):
        got = model.decode_step(nxt[:, t : t + 1], cache)
        want = model.decode_step(nxt[:, t : t + 1], reference)
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("steps_before", [1, 3], ids=["after_first_step", "mid_decode"])
@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@torch.no_grad()
def test_seq2seq_reorder_selects_rows(positional, steps_before):
    model = _seq2seq(positional)
    src = _tokens(3, 5, seed=8)
    src[1, 3:] = PAD
    tgt = _tokens(3, 6, seed=9)

    encoded = model.encode(src)
    cache = model.new_cache()
    for t in range(steps_before):
        model.decode_step(tgt[:, t : t + 1], encoded, cache)
    cache.reorder(INDEX)
    encoded = encoded.reorder(INDEX)
    assert all(c.keys.shape[0] == len(INDEX) for c in cache.cross_attn)

    selected_src, selected_tgt = src[INDEX], tgt[INDEX]
    reference_encoded = model.encode(selected_src)
    reference = model.new_cache()
    for t in range(steps_before):
        model.decode_step(selected_tgt[:, t : t + 1], reference_encoded, reference)

    for t in range(steps_before, tgt.shape[1]):
        got = model.decode_step(selected_tgt[:, t : t + 1], encoded, cache)
        want = model.decode_step(selected_tgt[:, t : t + 1], reference_encoded, reference)
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    full = model(selected_src, selected_tgt).logits
    torch.testing.assert_close(got, full[:, -1:], atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", ["learned", "relative", "rope", "alibi"])
@torch.no_grad()
def test_decoder_lm_cache_with_need_weights_returns_maps_over_cached_keys(positional):
    model = _decoder_lm(positional)
    tokens = _tokens(2, 6, seed=11)
    full = model(tokens, need_weights=True)
    cache = model.new_cache()
    model(tokens[:, :3], cache=cache, need_weights=True)
    for t in range(3, 6):
        step = model(tokens[:, t : t + 1], cache=cache, need_weights=True)
        torch.testing.assert_close(step.logits[:, 0], full.logits[:, t], atol=ATOL, rtol=0)
        assert step.cache is cache
        for layer, weights in enumerate(step.attentions.decoder):
            assert weights.shape == (2, 4, 1, t + 1)
            expected = full.attentions.decoder[layer][:, :, t : t + 1, : t + 1]
            torch.testing.assert_close(weights, expected, atol=ATOL, rtol=0)
