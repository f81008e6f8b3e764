"""The recurrent encoder–decoders pass the Transformer's checks: every cell × attention
variant runs; a padded batch equals each sentence alone; step-by-step decoding with the
cache equals the teacher-forced pass; beam size 1 equals greedy; save → load gives the
same logits; attention rows sum to 1 and ignore padding; bad configs name their key."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnkit import RNNSeq2Seq, RNNSeq2SeqConfig, build_model
from attnkit.config import ConfigError, RunConfig, TrainConfig, run_config_from_dict
from attnkit.decoding import beam_search, sample_translate
from attnkit.nn import EncoderOutput, RecurrentCache
from attnkit.protocols import Cache, Seq2SeqStep
from attnkit.training.checkpoint import load_checkpoint, restore_model, save_checkpoint

SRC_V, TGT_V, PAD, BOS, EOS = 13, 11, 0, 1, 2
CELLS = ("rnn", "lstm", "gru")
ATTENTIONS = ("none", "bahdanau", "luong")
VARIANTS = list(itertools.product(CELLS, ATTENTIONS))


def tiny(cell="gru", attention="bahdanau", **extra) -> RNNSeq2Seq:
    torch.manual_seed(0)
    options = dict(src_vocab_size=SRC_V, tgt_vocab_size=TGT_V, embed_dim=8, hidden_size=12)
    options.update(num_layers=2, dropout=0.0, **extra)
    return RNNSeq2Seq(RNNSeq2SeqConfig(cell=cell, attention=attention, **options)).eval()


def batch(lengths=(5, 2, 4), width=None, seed=0, vocab=SRC_V):
    """Right-padded rows of random real tokens (ids ≥ 3)."""
    g = torch.Generator().manual_seed(seed)
    width = width or max(lengths)
    rows = torch.full((len(lengths), width), PAD, dtype=torch.long)
    for i, n in enumerate(lengths):
        rows[i, :n] = torch.randint(3, vocab, (n,), generator=g)
    return rows


@pytest.mark.parametrize("cell, attention", VARIANTS)
def test_every_variant_builds_runs_and_learns_gradients(cell, attention):
    model = tiny(cell, attention, bidirectional=attention != "luong").train()
    src, tgt = batch(), batch((4, 3, 2), vocab=TGT_V)
    out = model(src, tgt, labels=tgt, need_weights=True)
    assert out.logits.shape == (3, 4, TGT_V) and out.hidden.shape == (3, 4, 12)
    assert out.attentions.encoder == [] and out.attentions.decoder == []
    assert len(out.attentions.cross) == (0 if attention == "none" else 1)
    out.loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    assert model.encoder.weight_ih_l0.grad.abs().sum() > 0  # the source is reached
    assert isinstance(model.new_cache(), Cache) and isinstance(model, Seq2SeqStep)


@pytest.mark.parametrize("cell, attention", VARIANTS)
def test_padded_batch_equals_each_sentence_alone(cell, attention):
    model = tiny(cell, attention)
    lengths = (5, 2, 4)
    src, tgt = batch(lengths, width=7), batch((3, 4, 1), seed=1, vocab=TGT_V)
    out = model(src, tgt, need_weights=True)
    for i, n in enumerate(lengths):
        alone = model(src[i : i + 1, :n], tgt[i : i + 1], need_weights=True)
        torch.testing.assert_close(out.logits[i], alone.logits[0], atol=1e-5, rtol=0)
        if attention != "none":
            weights = out.attentions.cross[0][i, 0]  # (T, S)
            assert torch.equal(weights[:, n:], torch.zeros_like(weights[:, n:]))
            torch.testing.assert_close(weights[:, :n], alone.attentions.cross[0][0, 0])


@pytest.mark.parametrize("cell, attention", VARIANTS)
def test_cached_steps_equal_the_teacher_forced_pass(cell, attention):
    model = tiny(cell, attention)
    src, tgt = batch(), batch((6, 6, 6), seed=2, vocab=TGT_V)
    full = model(src, tgt).logits
    encoded, cache = model.encode(src), model.new_cache()
    steps = [model.decode_step(tgt[:, t : t + 1], encoded, cache) for t in range(6)]
    assert len(cache) == 6
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    # two tokens, then the rest in one call: the same
    cache = model.new_cache()
    parts = [
        model.decode_step(tgt[:, :2], encoded, cache),
        model.decode_step(tgt[:, 2:], encoded, cache),
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=0)


def test_left_padded_targets_freeze_the_state():
    model = tiny("lstm", "luong")
    src = batch((4, 4))
    tgt = batch((5, 3), seed=3, vocab=TGT_V)
    left = torch.zeros_like(tgt)
    left[0], left[1, 2:] = tgt[0], tgt[1, :3]
    mask = left != PAD
    out = model(src, left, tgt_padding_mask=mask).logits
    alone = model(src[1:], tgt[1:, :3]).logits
    torch.testing.assert_close(out[1, 2:], alone[0], atol=1e-5, rtol=0)


def test_cache_reorder_selects_rows():
    model = tiny("lstm", "luong")
    src, tgt = batch(), batch((3, 3, 3), seed=4, vocab=TGT_V)
    encoded, cache = model.encode(src), model.new_cache()
    model.decode_step(tgt[:, :2], encoded, cache)
    index = torch.tensor([2, 0, 2])
    cache.reorder(index)
    encoded = encoded.reorder(index)
    assert isinstance(encoded, EncoderOutput) and len(encoded.state) == 2  # (h, c)
    got = model.decode_step(tgt[index, 2:], encoded, cache)
    expected = model(src[index], tgt[index]).logits[:, 2:]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_beam_size_one_equals_greedy(attention):
    model = tiny("gru", attention, hidden_size=16)
    with torch.no_grad():
        model.output_proj.weight.mul_(30)  # peaked, varied outputs: some rows end early
    src = batch((5, 2, 4, 3))
    result = beam_search(
        model, src, beam_size=1, max_len=8, bos_id=BOS, eos_id=EOS, pad_id=PAD, length_penalty=0
    )
    greedy = sample_translate(
        model, src, max_len=8, bos_id=BOS, eos_id=EOS, temperature=0.0, pad_id=PAD
    )
    for b, row in enumerate(greedy.tolist()):
        assert result.tokens[b] == [row[: row.index(EOS)] if EOS in row else row]
    wide = beam_search(model, src, beam_size=3, max_len=8, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    assert len(wide.tokens) == 4


def test_save_then_load_gives_identical_logits(tmp_path):
    model = tiny(
        "lstm",
        "bahdanau",
        share_embeddings=True,
        tie_embeddings=True,
        embed_dim=12,
        tgt_vocab_size=SRC_V,
    )
    assert model.output_proj.weight is model.tgt_embedding.weight is model.src_embedding.weight
    save_checkpoint(tmp_path, step=1, model=model, optimizer=None, trainer_state={"step": 1})
    fresh = build_model(model.config)
    restore_model(fresh, load_checkpoint(tmp_path))
    fresh.eval()
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    src, tgt = batch(), batch(seed=5, vocab=TGT_V)
    assert torch.equal(model(src, tgt).logits, fresh(src, tgt).logits)
    assert fresh.output_proj.weight is fresh.tgt_embedding.weight


@pytest.mark.parametrize(
    "attention, score",
    [("bahdanau", None), ("luong", "dot"), ("luong", "general"), ("luong", "scaled_dot")],
)
def test_attention_rows_sum_to_one_over_real_tokens(attention, score):
    model = tiny("gru", attention, score=score)
    assert model.attention.score_name == model.config.score_name
    src, tgt = batch((5, 2, 4)), batch((3, 3, 3), seed=6, vocab=TGT_V)
    weights = model(src, tgt, need_weights=True).attentions.stacked("cross")  # (1, B, 1, T, S)
    assert weights.shape == (1, 3, 1, 3, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 3, 1, 3))
    assert (weights[0, 1, 0, :, 2:] == 0).all()  # row 1 has two real tokens


def test_bottleneck_decoder_sees_only_the_final_state():
    model = tiny("gru", "none")
    src, tgt = batch((4, 4)), batch((3, 3), vocab=TGT_V)
    encoded = model.encode(src)
    scrambled = EncoderOutput(
        torch.randn_like(encoded.memory), encoded.padding_mask, [], encoded.state
    )
    assert torch.equal(model.decode(tgt, encoded).logits, model.decode(tgt, scrambled).logits)


def test_bad_inputs_are_one_line_errors():
    model = tiny()
    with pytest.raises(ValueError, match="right padding"):
        model(torch.tensor([[0, 4, 5]]), torch.tensor([[1, 3]]))
    with pytest.raises(ValueError, match="all padding"):
        model(torch.tensor([[4, 5], [0, 0]]), torch.tensor([[1], [1]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[4, 99]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="tgt_padding_mask"):
        model(torch.tensor([[4]]), torch.tensor([[1, 3]]), tgt_padding_mask=torch.ones(1, 3))


@pytest.mark.parametrize(
    "values, key",
    [
        ({"cell": "transformer"}, "model.cell"),
        ({"attention": "global"}, "model.attention"),
        ({"hidden_size": 0}, "model.hidden_size"),
        ({"num_layers": -1}, "model.num_layers"),
        ({"embed_dim": 2.5}, "model.embed_dim"),
        ({"dropout": 1.5}, "model.dropout"),
        ({"hidden_size": 7}, "model.hidden_size"),
        ({"attention": "luong", "score": "cosine"}, "model.score"),
        ({"attention": "bahdanau", "score": "dot"}, "model.score"),
        ({"bidirectional": "yes"}, "model.bidirectional"),
        ({"tie_embeddings": True, "embed_dim": 8}, "model.tie_embeddings"),
        ({"share_embeddings": True, "tgt_vocab_size": 12}, "model.share_embeddings"),
        ({"pad_id": 20}, "model.pad_id"),
    ],
)
def test_bad_config_values_name_the_key(values, key):
    options = {"src_vocab_size": 20, "tgt_vocab_size": 20, **values}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        RNNSeq2SeqConfig(**options)


def test_run_config_accepts_translation_corpora_and_rejects_typos():
    config = run_config_from_dict(
        {"model": {"kind": "rnn_seq2seq", "cell": "gru"}, "data": {"corpus": "reverse"}}
    )
    assert config.model.kind == "rnn_seq2seq" and config.model.score_name == "additive"
    with pytest.raises(ConfigError, match="does not suit"):
        RunConfig(model=RNNSeq2SeqConfig(), data=type(config.data)(corpus="shakespeare"))
    with pytest.raises(ConfigError, match=r"did you mean model\.hidden_size"):
        run_config_from_dict({"model": {"kind": "rnn_seq2seq", "hiden_size": 4}})
    with pytest.raises(ConfigError, match="src_vocab_size is not set"):
        RNNSeq2Seq(RNNSeq2SeqConfig())
    assert RunConfig(model=RNNSeq2SeqConfig(), train=TrainConfig()).model.positional == "none"


def test_print_shows_the_assembly():
    text = str(tiny("lstm", "luong", score="dot"))
    for part in ("src_embedding", "encoder): LSTM", "decoder): LSTM", "score='dot'", "combine"):
        assert part in text, part
    cache = RecurrentCache()
    assert len(cache) == 0
    cache.reorder(torch.tensor([0]))  # empty: nothing to select, no error
