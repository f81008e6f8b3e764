"""The three model families: shapes, attention maps, weight tying, losses, save → load,
training, the registry, length limits, masked-token filling and input checking."""

import io

import pytest
import torch
import torch.nn.functional as F

from attnkit import (
    DecoderLM,
    DecoderLMConfig,
    EncoderConfig,
    EncoderMLM,
    Seq2SeqConfig,
    Transformer,
    build_model,
    mask_tokens,
)
from attnkit.config import MODEL_CONFIGS
from attnkit.models import MODELS
from attnkit.nn import AttentionMaps

V = 15
PAD = 0
MASK = 1
TINY = {"d_model": 16, "num_heads": 4, "dropout": 0.0, "init_std": 0.1, "max_len": 32}


def _decoder_lm(**extra):
    torch.manual_seed(0)
    options = {**TINY, "num_layers": 2, **extra}
    return DecoderLM(DecoderLMConfig(vocab_size=V, **options)).eval()


def _encoder(**extra):
    torch.manual_seed(0)
    options = {**TINY, "num_layers": 2, "pad_id": PAD, "mask_id": MASK, **extra}
    return EncoderMLM(EncoderConfig(vocab_size=V, **options)).eval()


def _seq2seq(**extra):
    torch.manual_seed(0)
    options = {
        **TINY,
        "num_encoder_layers": 1,
        "num_decoder_layers": 2,
        "pad_id": PAD,
        **extra,
    }
    return Transformer(Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V + 3, **options)).eval()


def _tokens(batch, length, seed=0, low=2):
    return torch.randint(low, V, (batch, length), generator=torch.Generator().manual_seed(seed))


FAMILIES = ["decoder_lm", "encoder", "seq2seq"]


def _build(family, **extra):
    return {"decoder_lm": _decoder_lm, "encoder": _encoder, "seq2seq": _seq2seq}[family](**extra)


def _run(model, family, **kwargs):
    """Forward on fixed inputs of the family's shape."""
    if family == "seq2seq":
        return model(_tokens(2, 5, seed=1), _tokens(2, 4, seed=2), **kwargs)
    return model(_tokens(2, 6, seed=1), **kwargs)


# ------------------------------------------------------------------ shapes and attention maps


@torch.no_grad()
def test_decoder_lm_shapes_and_maps():
    model = _decoder_lm()
    out = model(_tokens(3, 7), need_weights=True)
    assert out.logits.shape == (3, 7, V)
    assert out.hidden.shape == (3, 7, 16)
    assert out.loss is None
    assert len(out.attentions.decoder) == 2
    assert all(a.shape == (3, 4, 7, 7) for a in out.attentions.decoder)
    assert out.attentions.encoder == [] and out.attentions.cross == []
    assert out.attentions.stacked("decoder").shape == (2, 3, 4, 7, 7)


@torch.no_grad()
def test_encoder_shapes_and_maps():
    model = _encoder()
    out = model(_tokens(3, 7), need_weights=True)
    assert out.logits.shape == (3, 7, V)
    assert out.hidden.shape == (3, 7, 16)
    assert len(out.attentions.encoder) == 2
    assert all(a.shape == (3, 4, 7, 7) for a in out.attentions.encoder)
    assert out.attentions.decoder == [] and out.attentions.cross == []


@torch.no_grad()
def test_seq2seq_shapes_and_maps():
    model = _seq2seq()
    src, tgt = _tokens(3, 5, seed=1), _tokens(3, 4, seed=2)
    out = model(src, tgt, need_weights=True)
    assert out.logits.shape == (3, 4, V + 3)
    assert out.hidden.shape == (3, 4, 16)
    maps = out.attentions
    assert len(maps.encoder) == 1 and maps.encoder[0].shape == (3, 4, 5, 5)
    assert len(maps.decoder) == 2 and all(a.shape == (3, 4, 4, 4) for a in maps.decoder)
    assert len(maps.cross) == 2 and all(a.shape == (3, 4, 4, 5) for a in maps.cross)
    assert maps.stacked("cross").shape == (2, 3, 4, 4, 5)
    assert maps.stacked("encoder").shape == (1, 3, 4, 5, 5)
    assert model.encode(src).memory.shape == (3, 5, 16)


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_no_maps_without_need_weights(family):
    out = _run(_build(family), family)
    for kind in ("encoder", "decoder", "cross"):
        assert getattr(out.attentions, kind) == []
        with pytest.raises(ValueError, match="need_weights"):
            out.attentions.stacked(kind)


@torch.no_grad()
def test_stacked_on_an_unrecorded_kind_raises():
    out = _decoder_lm()(_tokens(1, 3), need_weights=True)
    with pytest.raises(ValueError, match=r"no cross attention maps.*need_weights=True"):
        out.attentions.stacked("cross")
    with pytest.raises(ValueError, match="need_weights"):
        AttentionMaps().stacked("encoder")


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_need_weights_does_not_change_logits(family):
    model = _build(family)
    fused = _run(model, family).logits
    explicit = _run(model, family, need_weights=True).logits
    torch.testing.assert_close(explicit, fused, atol=1e-6, rtol=0)


@pytest.mark.parametrize("positional", ["learned", "relative", "rope", "alibi"])
@torch.no_grad()
def test_decoder_lm_maps_respect_padding_and_causality(positional):
    model = _decoder_lm(positional=positional)
    tokens = _tokens(2, 6)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[0, :2] = False  # left padding
    out = model(tokens, padding_mask=mask, need_weights=True)
    assert torch.isfinite(out.logits).all()
    future = ~torch.ones(6, 6, dtype=torch.bool).tril()
    for weights in out.attentions.decoder:
        assert torch.isfinite(weights).all()
        assert (weights[:, :, future] == 0).all()  # exactly zero, not just small
        assert (weights[0, :, :, :2] == 0).all()  # padded keys
        real_rows = weights.transpose(1, 2)[mask]  # (N_real, H, Tk)
        torch.testing.assert_close(real_rows.sum(-1), torch.ones(real_rows.shape[:2]))
        # a padded query sees only padded keys: a fully masked row is 0, not NaN
        assert (weights[0, :, :2] == 0).all()


@torch.no_grad()
def test_encoder_maps_give_padding_zero_weight():
    model = _encoder()
    tokens = _tokens(2, 6)
    tokens[1, 4:] = PAD
    real = tokens != PAD
    out = model(tokens, need_weights=True)
    for weights in out.attentions.encoder:
        assert (weights[1, :, :, 4:] == 0).all()
        real_rows = weights.transpose(1, 2)[real]  # (N_real, H, Tk)
        torch.testing.assert_close(real_rows.sum(-1), torch.ones(real_rows.shape[:2]))
        assert (weights[0] > 0).all()  # no padding, no causality: every key weighs


@pytest.mark.parametrize("score", ["scaled_dot", "additive"])
@torch.no_grad()
def test_seq2seq_maps_give_padding_zero_weight(score):
    model = _seq2seq(score=score)
    src, tgt = _tokens(2, 5, seed=1), _tokens(2, 4, seed=2)
    src[0, 3:] = PAD
    out = model(src, tgt, need_weights=True)
    for weights in out.attentions.cross:
        assert (weights[0, :, :, 3:] == 0).all()
        assert (weights[0, :, :, :3] > 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    for weights in out.attentions.decoder:
        assert (weights.triu(1) == 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    for weights in out.attentions.encoder:
        assert (weights[0, :, :, 3:] == 0).all()
        torch.testing.assert_close(weights[0, :, :3].sum(-1), torch.ones(4, 3))


# ------------------------------------------------------------------ embeddings and tying


@pytest.mark.parametrize(
    "family, head",
    [("decoder_lm", "lm_head"), ("encoder", "mlm_decoder"), ("seq2seq", "output_proj")],
)
def test_weight_tying(family, head):
    tied = _build(family, tie_embeddings=True)
    embedding = tied.tgt_embedding if family == "seq2seq" else tied.embedding
    assert getattr(tied, head).weight is embedding.token.weight
    untied = _build(family, tie_embeddings=False)
    embedding = untied.tgt_embedding if family == "seq2seq" else untied.embedding
    assert getattr(untied, head).weight is not embedding.token.weight
    assert getattr(untied, head).weight.data_ptr() != embedding.token.weight.data_ptr()
    count = sum(p.numel() for p in tied.parameters())
    assert count + embedding.token.weight.numel() == sum(p.numel() for p in untied.parameters())


def test_seq2seq_share_embeddings():
    config = {"tgt_vocab_size": V, "src_vocab_size": V, **TINY}
    shared = Transformer(Seq2SeqConfig(share_embeddings=True, **config))
    assert shared.tgt_embedding.token is shared.src_embedding.token
    assert shared.output_proj.weight is shared.src_embedding.token.weight
    separate = Transformer(Seq2SeqConfig(share_embeddings=False, **config))
    assert separate.tgt_embedding.token is not separate.src_embedding.token
    # one shared table gets gradient from both sides
    out = shared(_tokens(2, 4, seed=1), _tokens(2, 3, seed=2), labels=_tokens(2, 3, seed=3))
    out.loss.backward()
    grad = shared.src_embedding.token.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_padding_embedding_is_zero():
    for model in (_decoder_lm(pad_id=PAD), _encoder(), _seq2seq()):
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
                assert (module.weight[module.padding_idx] == 0).all(), name


# ------------------------------------------------------------------ loss


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_loss_is_cross_entropy_of_logits(family):
    model = _build(family)
    if family == "seq2seq":
        labels = _tokens(2, 4, seed=3)
        labels[0, 2:] = -100
        out = _run(model, family, labels=labels)
    elif family == "encoder":
        labels = torch.full((2, 6), -100)
        labels[:, 1], labels[1, 4] = 5, 7
        out = _run(model, family, labels=labels)
    else:
        labels = _tokens(2, 6, seed=3)
        labels[1, :3] = -100
        out = _run(model, family, labels=labels)
    expected = F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]), labels.reshape(-1))
    torch.testing.assert_close(out.loss, expected, atol=1e-6, rtol=0)
    assert out.loss.dim() == 0


# ------------------------------------------------------------------ save → load


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("fmt", ["torch", "safetensors"])
@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_save_load_gives_identical_logits(family, fmt, tie, tmp_path):
    model = _build(family, tie_embeddings=tie)
    expected = _run(model, family, need_weights=True)
    torch.manual_seed(123)
    fresh = type(model)(model.config).eval()  # other random weights
    assert not torch.equal(_run(fresh, family).logits, expected.logits)
    if fmt == "torch":
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        buffer.seek(0)
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
    else:
        safetensors_torch = pytest.importorskip("safetensors.torch")
        path = tmp_path / "model.safetensors"
        safetensors_torch.save_model(model, str(path))
        missing, unexpected = safetensors_torch.load_model(fresh, str(path))
        assert not missing and not unexpected
    for (name, a), (_, b) in zip(
        model.state_dict().items(), fresh.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    got = _run(fresh, family, need_weights=True)
    assert torch.equal(got.logits, expected.logits)
    for kind in ("encoder", "decoder", "cross"):
        for a, b in zip(
            getattr(got.attentions, kind), getattr(expected.attentions, kind), strict=True
        ):
            assert torch.equal(a, b)
    if tie:
        head = {"decoder_lm": "lm_head", "encoder": "mlm_decoder", "seq2seq": "output_proj"}
        embedding = fresh.tgt_embedding if family == "seq2seq" else fresh.embedding
        assert getattr(fresh, head[family]).weight is embedding.token.weight


# ------------------------------------------------------------------ training


def _train(model, batches, steps, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(**next(batches)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_decoder_lm_learns_a_repeated_pattern():
    torch.manual_seed(0)
    model = DecoderLM(
        DecoderLMConfig(vocab_size=12, **{**TINY, "d_model": 32, "num_heads": 2}, num_layers=1)
    )
    g = torch.Generator().manual_seed(0)

    def batch(n):
        start = torch.randint(0, 5, (n, 1), generator=g)
        seq = (start + torch.arange(13)) % 5 + 2  # 2 3 4 5 6 2 3 …, random phase
        return {"tokens": seq[:, :-1], "labels": seq[:, 1:]}

    def batches():
        while True:
            yield batch(16)

    held_out = batch(32)
    with torch.no_grad():
        before = model.eval()(**held_out).loss.item()
    _train(model, batches(), steps=40)
    with torch.no_grad():
        out = model(**held_out)
    assert out.loss.item() < 0.2 * before, (before, out.loss.item())
    assert (out.logits.argmax(-1) == held_out["labels"]).float().mean() > 0.95


def test_seq2seq_learns_to_copy():
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        src_vocab_size=12,
        tgt_vocab_size=12,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=64,
        **{**TINY, "d_model": 32, "num_heads": 2, "init_std": 0.02},
    )
    model = Transformer(config)
    g = torch.Generator().manual_seed(0)

    def batch(n):
        src = torch.randint(3, 12, (n, 6), generator=g)
        bos = torch.ones(n, 1, dtype=torch.long)
        return {"src": src, "tgt": torch.cat([bos, src[:, :-1]], 1), "labels": src}

    def batches():
        while True:
            yield batch(32)

    held_out = batch(64)
    with torch.no_grad():
        before = model.eval()(**held_out).loss.item()
    _train(model, batches(), steps=60)
    with torch.no_grad():
        out = model(**held_out)
    assert out.loss.item() < 0.4 * before, (before, out.loss.item())
    assert (out.logits.argmax(-1) == held_out["labels"]).float().mean() > 0.7


def test_encoder_learns_to_fill_masks():
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=12,
        num_layers=1,
        pad_id=PAD,
        mask_id=MASK,
        **{**TINY, "d_model": 32, "num_heads": 2},
    )
    model = EncoderMLM(config)
    g = torch.Generator().manual_seed(0)
    sequence = torch.arange(2, 12).repeat(32, 1)  # the same deterministic sentence

    def batches():
        while True:
            inputs, labels = mask_tokens(
                sequence, mask_id=MASK, vocab_size=12, special_ids=(PAD, MASK), generator=g
            )
            yield {"tokens": inputs, "labels": labels}

    held_out = next(batches())
    with torch.no_grad():
        before = model.eval()(**held_out).loss.item()
    _train(model, batches(), steps=40)
    with torch.no_grad():
        after = model(**held_out).loss.item()
    assert after < 0.5 * before, (before, after)
    masked = sequence[:1].clone()
    masked[0, 4] = MASK
    _, ids, _ = model.fill_mask(masked, top_k=1)
    assert ids.item() == sequence[0, 4].item()


# ------------------------------------------------------------------ registry and printing


@pytest.mark.parametrize(
    "config, cls",
    [
        (DecoderLMConfig(vocab_size=V, **TINY, num_layers=1), DecoderLM),
        (EncoderConfig(vocab_size=V, **TINY, num_layers=1), EncoderMLM),
        (Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V, **TINY), Transformer),
    ],
    ids=FAMILIES,
)
def test_build_model_picks_the_family(config, cls):
    model = build_model(config)
    assert type(model) is cls
    assert model.config is config


def test_registry_covers_every_config_kind():
    assert set(MODELS) == set(MODEL_CONFIGS)


def test_print_mirrors_the_paper():
    text = str(_seq2seq())
    for name in (
        "encoder",
        "decoder",
        "self_attn",
        "cross_attn",
        "ffn",
        "q_proj",
        "k_proj",
        "v_proj",
        "out_proj",
        "src_embedding",
        "tgt_embedding",
        "output_proj",
    ):
        assert name in text, name
    lm_text = str(_decoder_lm())
    assert "self_attn" in lm_text and "ffn" in lm_text and "lm_head" in lm_text
    assert "cross_attn" not in lm_text


def test_layers_are_initialised_independently():
    model = _decoder_lm()
    first, second = model.decoder.layers
    assert not torch.equal(first.self_attn.q_proj.weight, second.self_attn.q_proj.weight)


# ------------------------------------------------------------------ length limits


def _long_inputs(family, length):
    if family == "seq2seq":
        return [_tokens(1, length, seed=1), _tokens(1, 3, seed=2)]
    return [_tokens(1, length, seed=1)]


@pytest.mark.parametrize("family", FAMILIES)
def test_learned_positions_reject_over_long_input(family):
    model = _build(family, positional="learned", max_len=8)
    at_limit = _long_inputs(family, 8)
    with torch.no_grad():
        model(*at_limit)  # exactly max_len is fine
    with pytest.raises(ValueError, match="max_len=8") as info:
        model(*_long_inputs(family, 9))
    assert "9 positions" in str(info.value)
    assert "sinusoidal" in str(info.value)  # says what extends further


def test_seq2seq_learned_positions_reject_over_long_target():
    model = _seq2seq(positional="learned", max_len=8)
    with pytest.raises(ValueError, match="max_len=8"):
        model(_tokens(1, 3, seed=1), _tokens(1, 9, seed=2))


@pytest.mark.parametrize("family", FAMILIES)
def test_over_long_input_is_rejected_before_any_embedding_lookup(family):
    model = _build(family, positional="learned", max_len=8)
    calls = []
    handles = [
        module.register_forward_hook(lambda *args: calls.append(1))
        for module in model.modules()
        if isinstance(module, torch.nn.Embedding)
    ]
    try:
        with pytest.raises(ValueError, match="max_len"):
            model(*_long_inputs(family, 9))
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [], "a token embedding was looked up before the length check"


def test_learned_positions_reject_decoding_past_max_len():
    model = _decoder_lm(positional="learned", max_len=4)
    cache = model.new_cache()
    with torch.no_grad():
        model.decode_step(_tokens(1, 4), cache)
        with pytest.raises(ValueError, match="max_len=4"):
            model.decode_step(_tokens(1, 1), cache)


@torch.no_grad()
def test_padding_does_not_count_toward_max_len():
    model = _decoder_lm(positional="learned", max_len=4, pad_id=PAD)
    tokens = torch.tensor([[PAD, PAD, 3, 4, 5, 6]])  # 6 wide, 4 real
    torch.testing.assert_close(model(tokens).logits[0, 2:], model(tokens[:, 2:]).logits[0])


@pytest.mark.parametrize("positional", ["sinusoidal", "relative", "rope", "alibi", "none"])
@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_other_schemes_extend_past_max_len(family, positional):
    model = _build(family, positional=positional, max_len=4)
    inputs = _long_inputs(family, 12)
    if family == "seq2seq":
        inputs[1] = _tokens(1, 10, seed=2)
    out = model(*inputs)
    assert out.logits.shape[1] == inputs[-1].shape[1]
    assert torch.isfinite(out.logits).all()


# ------------------------------------------------------------------ fill_mask


@torch.no_grad()
def test_fill_mask_returns_sorted_top_k():
    model = _encoder()
    tokens = _tokens(2, 6)
    tokens[0, 1] = tokens[0, 4] = tokens[1, 2] = MASK
    positions, ids, probs = model.fill_mask(tokens, top_k=3)
    assert positions.tolist() == [[0, 1], [0, 4], [1, 2]]
    assert ids.shape == (3, 3) and probs.shape == (3, 3)
    assert ids.dtype == torch.long
    assert (probs[:, :-1] >= probs[:, 1:]).all()
    assert ((probs > 0) & (probs <= 1)).all()
    assert (probs.sum(-1) <= 1 + 1e-6).all()
    full = model(tokens).logits.softmax(-1)
    for n, (b, t) in enumerate(positions.tolist()):
        assert ids[n, 0] == full[b, t].argmax()
        torch.testing.assert_close(probs[n], full[b, t, ids[n]])


@torch.no_grad()
def test_fill_mask_without_masks_is_empty():
    positions, ids, probs = _encoder().fill_mask(_tokens(1, 5), top_k=2)
    assert positions.shape == (0, 2) and ids.shape == (0, 2) and probs.shape == (0, 2)


def test_fill_mask_needs_a_mask_id():
    model = _encoder(mask_id=None)
    with pytest.raises(ValueError, match="mask_id"):
        model.fill_mask(_tokens(1, 5))


# ------------------------------------------------------------------ mask_tokens

BIG_V = 100
SPECIAL = (0, 1, 2)


def _big_batch():
    return torch.randint(0, BIG_V, (200, 500), generator=torch.Generator().manual_seed(0))


def test_mask_tokens_statistics():
    tokens = _big_batch()
    inputs, labels = mask_tokens(
        tokens,
        mask_id=1,
        vocab_size=BIG_V,
        special_ids=SPECIAL,
        generator=torch.Generator().manual_seed(1),
    )
    assert inputs.shape == labels.shape == tokens.shape
    special = torch.isin(tokens, torch.tensor(SPECIAL))
    chosen = labels != -100
    assert not (chosen & special).any(), "a special token was chosen"
    assert (inputs[special] == tokens[special]).all()
    assert 0.13 < chosen[~special].float().mean() < 0.17
    assert (labels[chosen] == tokens[chosen]).all()
    assert (inputs[~chosen] == tokens[~chosen]).all()
    n = chosen.sum()
    masked = (inputs[chosen] == 1).sum() / n
    kept = (inputs[chosen] == tokens[chosen]).sum() / n
    replaced = 1 - masked - kept
    assert 0.77 < masked < 0.83
    assert 0.08 < kept < 0.12
    assert 0.08 < replaced < 0.12


def test_mask_tokens_is_deterministic_with_a_generator():
    tokens = _big_batch()[:20]

    def run(seed):
        return mask_tokens(
            tokens,
            mask_id=1,
            vocab_size=BIG_V,
            special_ids=SPECIAL,
            generator=torch.Generator().manual_seed(seed),
        )

    first, second, other = run(7), run(7), run(8)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[1], other[1])


def test_mask_tokens_probability_zero_and_one():
    tokens = _big_batch()[:10]
    inputs, labels = mask_tokens(tokens, mask_id=1, vocab_size=BIG_V, mask_prob=0.0)
    assert torch.equal(inputs, tokens) and (labels == -100).all()
    special = torch.isin(tokens, torch.tensor(SPECIAL))
    _, labels = mask_tokens(tokens, mask_id=1, vocab_size=BIG_V, mask_prob=1.0, special_ids=SPECIAL)
    assert torch.equal(labels != -100, ~special)


# ------------------------------------------------------------------ bad token inputs


def _call(model, family, tokens, where):
    if family == "seq2seq":
        good = _tokens(2, 3, seed=5)
        return model(tokens, good) if where == "src" else model(good, tokens)
    return model(tokens)


BAD_INPUTS = [
    pytest.param(torch.tensor([[2, 3, V + 3 + 5]]), "outside the vocabulary", id="id>=vocab"),
    pytest.param(torch.tensor([[2, -1, 3]]), "outside the vocabulary", id="negative"),
    pytest.param(torch.tensor([[2.0, 3.0]]), "torch.long", id="float"),
    pytest.param(torch.zeros(2, 0, dtype=torch.long), "empty", id="empty"),
    pytest.param(torch.tensor([2, 3, 4]), r"expected \(B, T\)", id="1-d"),
]


@pytest.mark.parametrize("tokens, message", BAD_INPUTS)
@pytest.mark.parametrize(
    "family, where",
    [("decoder_lm", ""), ("encoder", ""), ("seq2seq", "src"), ("seq2seq", "tgt")],
)
@torch.no_grad()
def test_bad_tokens_raise_clear_errors(family, where, tokens, message):
    model = _build(family)
    with pytest.raises(ValueError, match=message):
        _call(model, family, tokens, where)


@torch.no_grad()
def test_decoder_lm_id_equal_to_vocab_is_rejected():
    with pytest.raises(ValueError, match=rf"contains id {V}, outside the vocabulary \[0, {V}\)"):
        _decoder_lm()(torch.tensor([[1, V]]))


def test_encoder_decoder_keeps_its_old_name_as_an_alias():
    from attnkit import EncoderDecoder
    from attnkit.models import MODELS

    assert Transformer is EncoderDecoder
    assert MODELS["seq2seq"] is EncoderDecoder
    assert repr(_seq2seq()).startswith("EncoderDecoder(")
