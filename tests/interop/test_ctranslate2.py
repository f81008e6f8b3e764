"""CTranslate2 export: a random attnkit translator or language model, converted with
CTranslate2's own spec API, decodes token for token like attnkit's greedy decoding with
the same scores (to 1e-4), and its beam search finds the same best hypothesis; a variant
the engine cannot express is refused in one line naming the setting."""

from __future__ import annotations

import pytest
import torch

from attnkit.api import translate
from attnkit.config import DataConfig, DecoderLMConfig, RunConfig, Seq2SeqConfig
from attnkit.data.tokenizers import train_tokenizer
from attnkit.decoding.beam import beam_search
from attnkit.decoding.greedy import greedy_generate, greedy_translate
from attnkit.interop.ctranslate2 import export_ctranslate2, vocabulary
from attnkit.interop.engines import ct2_model, ct2_translate, ct2_translate_ids
from attnkit.models.registry import build_model
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.rundir import load_run

from .conftest import write_run

ctranslate2 = pytest.importorskip("ctranslate2", reason="make test installs attnkit[engines]")

WORDS = "la casa roja el perro negro the red house black dog a b c d e f g h i j k l m n o"
SOURCES = ["la casa roja", "el perro negro a b c", "d e f g h i j k", "m", "n o la el casa"]


def translator_run(tmp_path, *, seed=0, **model):
    tok = train_tokenizer("word", WORDS, vocab_size=64, specials=("<pad>", "<bos>", "<eos>"))
    settings = {
        "src_vocab_size": tok.vocab_size,
        "tgt_vocab_size": tok.vocab_size,
        "d_model": 32,
        "num_heads": 4,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "d_ff": 48,
        "dropout": 0.0,
        "share_embeddings": True,
        "max_len": 64,
        **model,
    }
    config = RunConfig(model=Seq2SeqConfig(**settings), data=DataConfig(block_size=32))
    root = write_run(tmp_path / "run", config, tok, seed=seed)
    # Weights of std 0.2 and norms near 1: a random translator whose greedy outputs
    # differ from sentence to sentence (larger weights make it repeat one token).
    model = build_model(config.model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            norm_gain = "norm" in name and name.endswith("weight")
            parameter.copy_(1 + 0.2 * noise if norm_gain else 0.2 * noise)
    save_checkpoint(root, step=2, model=model, optimizer=None, trainer_state={"step": 2})
    return load_run(root)


def source_batch(run, sentences):
    """Right-padded source ids with EOS, as attnkit's translation feeds them."""
    tok = run.source_tokenizer
    rows = [[*tok.encode(s), tok.eos_id] for s in sentences]
    src = torch.full((len(rows), max(map(len, rows))), tok.pad_id, dtype=torch.long)
    for r, ids in enumerate(rows):
        src[r, : len(ids)] = torch.tensor(ids)
    return src


def attnkit_score(run, src_row, ids):
    """Summed log-probability of ``ids`` + EOS given one source row (teacher forcing)."""
    tok = run.tokenizer
    tgt = torch.tensor([[tok.bos_id, *ids]])
    labels = torch.tensor([[*ids, tok.eos_id]])
    with torch.no_grad():
        logits = run.model(src_row[None], tgt).logits.double()
    # Padding is never generated: its probability goes to the other tokens (CTranslate2
    # suppresses it the same way, before the softmax).
    logp = logits[0].index_fill(-1, torch.tensor([tok.pad_id]), -torch.inf).log_softmax(-1)
    return float(logp.gather(-1, labels[0][:, None]).sum())


def strip(row, eos):
    row = row.tolist()
    return row[: row.index(eos)] if eos in row else row


VARIANTS = {
    "post-LN, ReLU, sinusoidal, √d scale (the paper)": {},
    "pre-LN, GELU, learned positions": {
        "norm_first": True,
        "activation": "gelu",
        "positional": "learned",
        "embed_scale": False,
    },
    "pre-LN RMSNorm, SwiGLU, no biases, grouped K/V": {
        "norm_first": True,
        "norm": "rmsnorm",
        "activation": "swiglu",
        "bias": False,
        "num_kv_heads": 2,
    },
    "unscaled dot score, untied output": {"score": "dot", "tie_embeddings": False},
    "RoPE": {"positional": "rope", "norm_first": True, "embed_scale": False},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ct2_greedy_equals_attnkit_greedy_with_its_scores(tmp_path, variant):
    # A random model may write one token over and over, whatever the sentence: the
    # seeds are tried in turn (each one checked) until one answers each sentence anew.
    for seed in range(4):
        run = translator_run(tmp_path / str(seed), seed=seed, **VARIANTS[variant])
        tok = run.tokenizer
        src = source_batch(run, SOURCES)
        ours = greedy_translate(
            run.model, src, bos_id=tok.bos_id, eos_id=tok.eos_id, max_len=12, pad_id=tok.pad_id
        )
        sources = [tok.encode(s) for s in SOURCES]
        theirs = ct2_translate_ids(
            ct2_model(run), sources, eos_id=tok.eos_id, pad_id=tok.pad_id, max_len=12
        )
        for r, hypotheses in enumerate(theirs):
            expected = strip(ours[r], tok.eos_id)
            assert hypotheses[0].ids == expected, f"seed {seed}, row {r}"
            if len(expected) < 12:  # finished with EOS: the score includes it
                score = attnkit_score(run, src[r][src[r] != tok.pad_id], expected)
                assert hypotheses[0].score == pytest.approx(score, abs=1e-4)
        if len({tuple(h[0].ids) for h in theirs}) > 1:
            break
    else:
        pytest.fail("no seed gave a random model whose outputs differ between sentences")


def test_ct2_beam_finds_attnkit_beam_best(tmp_path):
    run = translator_run(tmp_path, norm_first=True, seed=3)
    tok = run.tokenizer
    src = source_batch(run, SOURCES)
    ours = beam_search(
        run.model,
        src,
        beam_size=4,
        max_len=12,
        bos_id=tok.bos_id,
        eos_id=tok.eos_id,
        pad_id=tok.pad_id,
        length_penalty=0.0,
    )
    sources = [tok.encode(s) for s in SOURCES]
    theirs = ct2_translate_ids(
        ct2_model(run), sources, eos_id=tok.eos_id, pad_id=tok.pad_id, beam=4, max_len=12
    )
    greedy = ct2_translate_ids(ct2_model(run), sources, eos_id=tok.eos_id, pad_id=tok.pad_id)
    for r in range(len(SOURCES)):
        assert theirs[r][0].ids == strip(torch.tensor(ours.tokens[r][0]), tok.eos_id), f"row {r}"
    # beam search is not greedy here: at least one sentence changes
    assert any(b[0].ids != g[0].ids for b, g in zip(theirs, greedy, strict=True))


def test_ct2_translate_of_the_api_returns_text_and_n_best(tmp_path):
    run = translator_run(tmp_path, norm_first=True)
    pytorch = [best[0] for best in translate(run, SOURCES, beam=1, max_new_tokens=10)]
    engine = ct2_translate(run, SOURCES, beam=1, length_penalty=0.0, n_best=1, max_new_tokens=10)
    assert [best[0] for best in engine] == pytorch
    three = ct2_translate(run, ["la casa"], beam=4, length_penalty=0.6, n_best=3, max_new_tokens=8)
    assert len(three[0]) == 3 and len(set(three[0])) == 3
    int8 = ct2_translate(
        run, SOURCES, beam=1, length_penalty=0.0, n_best=1, max_new_tokens=10, quantization="int8"
    )
    assert len(int8) == len(SOURCES)


def lm_run(tmp_path, **model):
    text = "to be or not to be that is the question whether tis nobler in the mind\n" * 4
    tok = train_tokenizer("char", text, vocab_size=64)
    settings = {
        "vocab_size": tok.vocab_size,
        "d_model": 32,
        "num_heads": 4,
        "num_layers": 2,
        "max_len": 48,
        "dropout": 0.0,
        **model,
    }
    config = RunConfig(model=DecoderLMConfig(**settings), data=DataConfig(block_size=32))
    return load_run(write_run(tmp_path / "run", config, tok))


@pytest.mark.parametrize(
    "model",
    [{}, {"norm_first": False, "activation": "relu", "positional": "sinusoidal"}],
    ids=["GPT-style", "post-LN sinusoidal"],
)
def test_ct2_generator_greedy_equals_attnkit_greedy(tmp_path, model):
    from attnkit.api import generate

    run = lm_run(tmp_path, **model)
    prompt = "to be or"
    ids = run.tokenizer.encode(prompt)
    ours = greedy_generate(run.model, torch.tensor([ids]), max_new_tokens=20)[0, len(ids) :]
    text = "".join(generate(run, prompt, max_new_tokens=20, temperature=0.0, engine="ctranslate2"))
    assert text == run.tokenizer.decode(ours.tolist())
    # Past max_len (learned positions) the window slides as in attnkit's generation.
    long = "".join(generate(run, prompt, max_new_tokens=60, temperature=0.0))
    engine = "".join(
        generate(run, prompt, max_new_tokens=60, temperature=0.0, engine="ctranslate2")
    )
    assert engine == long


def test_vocabulary_is_distinct_and_names_the_specials():
    tok = train_tokenizer(
        "bpe",
        "hello world, hello there " * 20,
        vocab_size=300,
        specials=("<pad>", "<bos>", "<eos>"),
    )
    words = vocabulary(tok)
    assert len(words) == len(set(words)) == tok.vocab_size
    assert words[:3] == ["<pad>", "<bos>", "<eos>"]


REFUSED = {
    "positional": ({"positional": "relative"}, "model.positional='relative'"),
    "pos_combine": (
        {"pos_combine": "concat", "tie_embeddings": False},
        "model.pos_combine='concat'",
    ),
    "score": ({"score": "additive"}, "model.score='additive'"),
    "norm": ({"norm": "none"}, "model.norm='none'"),
    "residual": ({"residual": False}, "model.residual=false"),
}


@pytest.mark.parametrize("key", list(REFUSED))
def test_unexpressible_variant_is_refused_in_one_line(tmp_path, key):
    settings, named = REFUSED[key]
    run = translator_run(tmp_path, **settings)
    with pytest.raises(ValueError) as error:
        export_ctranslate2(run, tmp_path / "out")
    message = str(error.value)
    assert named in message and "CTranslate2" in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_export_writes_a_directory_ctranslate2_loads(tmp_path):
    run = translator_run(tmp_path)
    exported = export_ctranslate2(run.run_dir.root, tmp_path / "ct2", quantization="int8")
    assert "model.bin" in exported.files and exported.architecture == "ctranslate2.Translator"
    translator = ctranslate2.Translator(str(exported.directory), device="cpu")
    words = vocabulary(run.tokenizer)
    result = translator.translate_batch([["la", "casa", "<eos>"]], max_decoding_length=5)
    assert all(word in words for word in result[0].hypotheses[0])
    with pytest.raises(ValueError, match="not an empty folder"):
        export_ctranslate2(run.run_dir.root, tmp_path / "ct2")
    with pytest.raises(ValueError, match="quantization='int3'"):
        export_ctranslate2(run.run_dir.root, tmp_path / "other", quantization="int3")


def test_the_benchmark_engine_case_runs_and_makes_every_token():
    """`python -m benchmarks --only engines` builds its CTranslate2 side from a run
    directory, as a user's run; the builder checks the engine writes all 256 tokens."""
    from benchmarks.cases import CASES

    engine_cases = [name for name, case in CASES.items() if case.group == "engines"]
    assert {"ct2-greedy-batch-1", "ct2-beam-4-int8", "onnx-vit-classify"} <= set(engine_cases)
    case = CASES["ct2-greedy-batch-1"]
    impl = case.impls[next(iter(case.impls))]()
    impl.call()
    assert impl.work_per_call == 256
