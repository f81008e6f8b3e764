"""A recurrent translator end to end through the command line, like the Transformer:
train a GRU with Bahdanau attention on the reverse task, then translate, evaluate and
draw its attention; without attention there is nothing to draw, and it says so."""

from __future__ import annotations

import json

import pytest

from attnkit.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

RECIPE = """
[model]
kind = "rnn_seq2seq"
cell = "gru"
attention = "bahdanau"
embed_dim = 16
hidden_size = 32
num_layers = 1
dropout = 0.0
share_embeddings = true

[data]
corpus = "reverse"
tokenizer = "char"
block_size = 32

[train]
steps = 40
batch_tokens = 512
lr = 3e-3
schedule = "constant"
warmup_steps = 5
eval_every = 20
save_every = 20
device = "cpu"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rnn")
    recipe = root / "reverse_gru.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    out = root / "run"
    assert main(["train", str(recipe), "--out", str(out), "--quiet"]) == 0
    return out


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_training_lowers_the_validation_loss(run):
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["val_loss"] for r in records if r["kind"] == "eval"]
    assert len(losses) == 2 and losses[-1] < losses[0]


def test_translate_greedy_and_beam(run, capsys):
    status, out, err = cli(capsys, "translate", run, "abc", "defgh")
    assert status == 0 and len(out.splitlines()) == 2, err
    status, out, err = cli(capsys, "translate", run, "abc", "--beam", "3", "--n-best", "2")
    assert status == 0 and len(out.rstrip("\n").split("\t")) == 2, err


def test_evaluate_prints_scores(run, capsys):
    status, out, err = cli(capsys, "evaluate", run, "--split", "test", "--beam", "2")
    assert status == 0, err
    result = json.loads(out)
    assert 0 <= result["chrf"] <= 100 and result["sentences"] == 500


def test_info_names_the_family(run, capsys):
    status, out, err = cli(capsys, "info", run)
    assert status == 0 and json.loads(out)["kind"] == "rnn_seq2seq", err


def test_attention_draws_the_alignment_only(run, capsys, tmp_path):
    out = tmp_path / "align.png"
    status, _, err = cli(capsys, "attention", run, "--text", "abcd", "--out", out)
    assert status == 0, err
    for name in ("align.png", "align-cross.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC), name
    assert not (tmp_path / "align-encoder.png").exists()  # no self-attention in an RNN


def test_attention_without_attention_is_a_clear_error(capsys, tmp_path):
    recipe = tmp_path / "none.toml"
    text = RECIPE.replace('attention = "bahdanau"', 'attention = "none"')
    recipe.write_text(text.replace("steps = 40", "steps = 2"), encoding="utf-8")
    assert main(["train", str(recipe), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    status, _, err = cli(
        capsys, "attention", tmp_path / "r", "--text", "ab", "--out", tmp_path / "a.png"
    )
    assert status == 2 and "no encoder–decoder attention" in err
