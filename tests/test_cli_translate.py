"""Translation end to end through the command line on the synthetic reverse task:
train, translate (arguments, stdin, n-best), evaluate (BLEU/chrF), average, attention."""

from __future__ import annotations

import io
import json

import pytest
import torch

from attnkit.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

RECIPE = """
[model]
kind = "seq2seq"
d_model = 32
num_heads = 4
num_encoder_layers = 1
num_decoder_layers = 1
d_ff = 64
dropout = 0.0
share_embeddings = true

[data]
corpus = "reverse"
tokenizer = "word"
vocab_size = 64
block_size = 32

[train]
steps = 60
batch_tokens = 512
lr = 3e-3
schedule = "noam"
warmup_steps = 20
label_smoothing = 0.1
eval_every = 20
save_every = 20
keep_last = 3
device = "cpu"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    recipe = root / "reverse.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    out = root / "run"
    assert main(["train", str(recipe), "--out", str(out), "--quiet"]) == 0
    return out


def cli(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_training_lowers_the_validation_loss(run):
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["val_loss"] for r in records if r["kind"] == "eval"]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_translate_arguments_and_stdin_keep_order_and_empty_lines(run, capsys, monkeypatch):
    status, out, err = cli(capsys, "translate", run, "a b c", "d e f g")
    assert status == 0, err
    assert len(out.splitlines()) == 2
    status, out2, _ = cli(
        capsys, "translate", run, stdin="a b c\n\nd e f g\n", monkeypatch=monkeypatch
    )
    lines = out2.split("\n")
    assert status == 0 and lines[1] == "" and [lines[0], lines[2]] == out.splitlines()
    status, out, _ = cli(capsys, "translate", run, "a b c", "--beam", "3", "--n-best", "2")
    assert status == 0 and len(out.rstrip("\n").split("\t")) == 2
    status, out, _ = cli(capsys, "translate", run, "--beam", "1", "a b c", "d e f g")
    assert status == 0 and len(out.splitlines()) == 2  # texts after options are texts too


def test_evaluate_prints_bleu_chrf_with_signatures_and_writes_files(run, capsys):
    status, out, err = cli(capsys, "evaluate", run, "--split", "test", "--beam", "2")
    assert status == 0, err
    result = json.loads(out)
    assert 0 <= result["bleu"] <= 100 and 0 <= result["chrf"] <= 100
    assert result["bleu_signature"].startswith("nrefs:1") and "tok:13a" in result["bleu_signature"]
    assert "nc:6" in result["chrf_signature"]  # chrF: character 6-grams
    hyp = run / "eval" / "test.beam2.hyp"
    assert hyp.is_file() and len(hyp.read_text().splitlines()) == result["sentences"] == 500
    assert (run / "eval" / "test.beam2.ref").is_file()


def test_average_makes_a_run_that_translates(run, capsys, tmp_path):
    out = tmp_path / "avg"
    status, _, err = cli(capsys, "average", run, "--last", "3", "--out", out)
    assert status == 0, err
    status, text, err = cli(capsys, "translate", out, "a b c")
    assert status == 0 and text.endswith("\n"), err
    from attnkit.training.checkpoint import load_checkpoint

    steps = sorted((run / "checkpoints").glob("step-*"))[-3:]
    states = [load_checkpoint(p).model_state for p in steps]
    averaged = load_checkpoint(out).model_state
    for name, weight in averaged.items():
        expected = sum(state[name] for state in states) / 3
        torch.testing.assert_close(weight, expected, atol=1e-6, rtol=1e-5)
    status, _, err = cli(capsys, "average", run, "--last", "9", "--out", tmp_path / "x")
    assert status == 2 and "fewer than --last 9" in err


def test_attention_draws_alignment_and_self_attention(run, capsys, tmp_path):
    out = tmp_path / "align.png"
    status, _, err = cli(capsys, "attention", run, "--text", "a b c d", "--out", out)
    assert status == 0, err
    for name in ("align.png", "align-cross.png", "align-encoder.png", "align-decoder.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC), name


def test_lm_run_passed_to_translate_is_a_clear_error(capsys, tmp_path):
    from attnkit.config import DataConfig, DecoderLMConfig, RunConfig, TrainConfig
    from attnkit.training.trainer import Trainer

    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world\n" * 50)
    config = RunConfig(
        model=DecoderLMConfig(d_model=16, num_heads=2, num_layers=1, max_len=16),
        data=DataConfig(train=str(corpus), block_size=8),
        train=TrainConfig(steps=1, batch_size=2, eval_every=0, eval_batches=1, device="cpu"),
    )
    Trainer(config, tmp_path / "lm").fit()
    status, _, err = cli(capsys, "translate", tmp_path / "lm", "hello")
    assert status == 2 and "not a translator" in err and "attnkit generate" in err


def test_int8_evaluate_and_translate(run, capsys):
    status, out, err = cli(capsys, "evaluate", run, "--split", "test", "--beam", "2", "--int8")
    assert status == 0, err
    result = json.loads(out)
    assert result["int8"] is True and 0 <= result["bleu"] <= 100
    assert (run / "eval" / "test.beam2.int8.hyp").is_file()  # beside, not over, the fp32 file
    status, out, err = cli(capsys, "translate", run, "a b c", "--int8")
    assert status == 0 and len(out.splitlines()) == 1, err


def test_a_translator_run_says_which_functions_and_commands_fit_it(run, capsys):
    from attnkit import api

    with pytest.raises(
        ValueError,
        match=r"holds a translator, not a language model: use translate\(\), evaluate\(\) or "
        r"plot_run_attention\(\)",
    ):
        list(api.generate(api.load_run(run), "a b"))
    with pytest.raises(ValueError, match=r"split='train' is not a held-out split"):
        api.evaluate(run, split="train")
    status, _, err = cli(capsys, "generate", run, "--prompt", "a b")
    assert status == 2 and "not a language model: use `attnkit translate`" in err
    status, out, _ = cli(capsys, "info", run)
    info = json.loads(out)
    assert info["family"] == "translator" and "source_tokenizer" not in info  # joint vocabulary
