"""GPT-2 out and in: an attnkit decoder LM exports as a GPT2LMHeadModel that transformers
loads (Conv1D's transposed weights and all) with the same logits and the same greedy
continuation; a GPT-2 checkpoint imports back with the same logits; a variant GPT-2
cannot express is refused in one line."""

from __future__ import annotations

import json

import pytest
import torch

from attnkit.config import DataConfig, DecoderLMConfig, RunConfig
from attnkit.data.tokenizers import train_tokenizer
from attnkit.interop import export_hf, import_hf
from attnkit.training.rundir import load_run

from .conftest import bert_tokenizer, randomize, write_run

TEXT = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: Ay me!\n" * 3
PROMPTS = ["ROMEO: But soft", "JULIET: Ay"]


def decoder_run(tmp_path, *, tokenizer="char", **model):
    tok = train_tokenizer(tokenizer, TEXT, vocab_size=300)
    settings = {
        "vocab_size": tok.vocab_size,
        "d_model": 32,
        "num_heads": 4,
        "num_layers": 2,
        "max_len": 48,
        **model,
    }
    config = RunConfig(model=DecoderLMConfig(**settings), data=DataConfig(block_size=32))
    return write_run(tmp_path / "run", config, tok), tok


EXPRESSIBLE = {
    "GPT-2 as is": {},
    "char, untied head": {"tie_embeddings": False},
    "grouped K/V heads": {"num_kv_heads": 1},
    "no biases": {"bias": False},
    "sinusoidal positions": {"positional": "sinusoidal"},
    "unscaled dot, relu": {"score": "dot", "activation": "relu"},
    "word tokenizer": {"tokenizer": "word"},
    "bpe tokenizer": {"tokenizer": "bpe"},
}


@pytest.mark.parametrize("model", EXPRESSIBLE.values(), ids=EXPRESSIBLE.keys())
def test_an_exported_decoder_is_a_gpt2_with_the_same_logits(tmp_path, model):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

    kind = model.pop("tokenizer", "char")
    run_dir, tokenizer = decoder_run(tmp_path, tokenizer=kind, **model)
    exported = export_hf(run_dir, tmp_path / "hf")
    assert exported.architecture == "GPT2LMHeadModel"
    theirs = AutoModelForCausalLM.from_pretrained(exported.directory).eval()
    assert isinstance(theirs, GPT2LMHeadModel)
    hf_tokenizer = AutoTokenizer.from_pretrained(exported.directory)
    run = load_run(run_dir)
    for prompt in [*PROMPTS, "what light through yonder window breaks?"]:
        ids = tokenizer.encode(prompt)
        assert hf_tokenizer(prompt)["input_ids"] == ids
        assert hf_tokenizer.decode(ids) == tokenizer.decode(ids) == prompt
        tokens = torch.tensor([ids])
        with torch.no_grad():
            ours = run.model(tokens).logits
            reference = theirs(tokens).logits
        assert (ours - reference).abs().max() <= 1e-4
    # the same greedy continuation, with transformers' own generate and its cache
    tokens = torch.tensor([tokenizer.encode(PROMPTS[0])])
    with torch.no_grad():
        generated = theirs.generate(tokens, max_new_tokens=10, do_sample=False, pad_token_id=0)
        continuation = tokens
        for _ in range(10):
            step = run.model(continuation).logits[:, -1].argmax(-1, keepdim=True)
            continuation = torch.cat([continuation, step], dim=1)
    assert generated.tolist() == continuation.tolist()
    # and back: export → import gives the same logits
    back = load_run(import_hf(exported.directory, tmp_path / "back").run_dir)
    tokens = torch.tensor([tokenizer.encode(TEXT[:40])])
    with torch.no_grad():
        assert (back.model(tokens).logits - run.model(tokens).logits).abs().max() <= 1e-5
    assert back.tokenizer.encode(TEXT[:40]) == tokens[0].tolist()


def test_a_gpt2_made_by_transformers_imports_with_the_same_logits(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=40, n_positions=24, n_embd=24, n_layer=2, n_head=3, activation_function="gelu"
    )
    theirs = randomize(GPT2LMHeadModel(config)).eval()
    theirs.tie_weights()
    theirs.save_pretrained(tmp_path / "hf")
    tokenizer_run, _ = decoder_run(tmp_path / "tok")  # any tokenizer of 40 ids or fewer
    export = export_hf(tokenizer_run, tmp_path / "tok-hf")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "hf" / name).write_bytes((export.directory / name).read_bytes())
    run = load_run(import_hf(tmp_path / "hf", tmp_path / "run").run_dir)
    tokens = torch.randint(40, (3, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (run.model(tokens).logits - theirs(tokens).logits).abs().max() <= 1e-5


def test_original_gpt2_checkpoints_use_tanh_gelu_which_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_embd=8, n_layer=1, n_head=2, vocab_size=30)).save_pretrained(
        tmp_path / "hf"
    )
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["activation_function"] == "gelu_new"
    bert_tokenizer().backend.save(str(tmp_path / "hf" / "tokenizer.json"))
    with pytest.raises(
        ValueError, match=r"config\.json: activation_function='gelu_new' cannot be represented"
    ):
        import_hf(tmp_path / "hf", tmp_path / "run")


REFUSED = {
    "RoPE": ({"positional": "rope"}, r"^model\.positional='rope' cannot be expressed as GPT-2"),
    "ALiBi": ({"positional": "alibi"}, r"^model\.positional='alibi' cannot be expressed"),
    "relative": ({"positional": "relative"}, r"^model\.positional='relative' cannot be"),
    "concatenated positions": (
        {"pos_combine": "concat", "tie_embeddings": False},
        r"^model\.pos_combine='concat' cannot be expressed as GPT-2 \(GPT2LMHeadModel\): it adds",
    ),
    "post-LN": ({"norm_first": False}, r"^model\.norm_first=false cannot be expressed as GPT-2"),
    "RMSNorm": ({"norm": "rmsnorm"}, r"^model\.norm='rmsnorm' cannot"),
    "SwiGLU": ({"activation": "swiglu"}, r"^model\.activation='swiglu' cannot"),
    "additive alignment": ({"score": "additive"}, r"^model\.score='additive' cannot"),
    "general alignment": ({"score": "general"}, r"^model\.score='general' cannot"),
    "not causal": ({"causal": False}, r"^model\.causal=false cannot be expressed as GPT-2"),
    "no residuals": ({"residual": False}, r"^model\.residual=false cannot"),
}


@pytest.mark.parametrize("model,message", REFUSED.values(), ids=REFUSED.keys())
def test_a_variant_gpt2_cannot_express_is_refused_in_one_line(tmp_path, model, message):
    run_dir, _ = decoder_run(tmp_path, **model)
    with pytest.raises(ValueError, match=message) as error:
        export_hf(run_dir, tmp_path / "hf")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "hf").exists()


def test_export_refuses_a_full_folder_and_other_families(tmp_path):
    run_dir, _ = decoder_run(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="exists and is not an empty folder"):
        export_hf(run_dir, tmp_path / "full")
    (tmp_path / "empty").mkdir()
    assert export_hf(run_dir, tmp_path / "empty").directory == tmp_path / "empty"
