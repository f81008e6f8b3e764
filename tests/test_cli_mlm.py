"""Missing-word recovery end to end through the command line, on tiny data: train a
masked-language model, evaluate it against its baselines, fill masks (arguments, stdin,
the API), draw its attention, resume it — and the one-line errors."""

from __future__ import annotations

import io
import json
import random

import pytest

import attnkit
from attnkit.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Two sentences in random order: the only clue to a hidden subject is its own sentence.
_RANDOM = random.Random(0)
SENTENCES = ("the cat sat on the mat .", "the dog lay on the rug .")
TEXT = "".join(_RANDOM.choice(SENTENCES) + "\n" for _ in range(300))

RECIPE = """
[model]
kind = "encoder"
num_layers = 2
num_heads = 2
d_model = 32
dropout = 0.0
max_len = 24
mask_id = 1

[data]
train = "{corpus}"
tokenizer = "word"
block_size = 24
mask_prob = 0.2

[train]
steps = 800
batch_size = 32
lr = 1e-3
warmup_steps = 20
schedule = "constant"
weight_decay = 0.0
eval_every = 400
eval_batches = 5
log_every = 10
device = "cpu"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    recipe = root / "tiny_mlm.toml"
    recipe.write_text(RECIPE.format(corpus=corpus), encoding="utf-8")
    run = root / "run"
    assert main(["train", str(recipe), "--out", str(run), "--quiet"]) == 0
    return recipe, run


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *fragments):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_training_writes_a_run_that_reports_masked_accuracy(trained):
    _, run = trained
    for name in ("config.json", "tokenizer.json", "metrics.jsonl", "loss.png"):
        assert (run / name).is_file()
    evals = [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if '"eval"' in line
    ]
    assert [e["step"] for e in evals] == [400, 800]
    assert {"val_accuracy", "val_accuracy_top5", "val_masked_tokens"} <= set(evals[-1])
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["mask_id"] == 1 and config["model"]["pad_id"] == 0


def test_evaluate_prints_the_scores_beside_both_baselines(trained, capsys):
    _, run = trained
    status, out, _ = run_cli(capsys, "evaluate", run)
    assert status == 0
    result = json.loads(out)
    assert result["data"] == "validation split"
    assert result["masked_tokens"] > 20
    assert 0 <= result["accuracy"] <= result["accuracy_top5"] <= 1
    frequent, unigram = result["baselines"]["most_frequent_token"], result["baselines"]["unigram"]
    assert frequent["token"] == "the"  # the most frequent word of the text
    assert unigram["accuracy"] == frequent["accuracy"]
    # the context makes most of these words certain; a unigram model cannot see it
    assert result["accuracy"] > frequent["accuracy"] + 0.2
    assert result["perplexity"] < unigram["perplexity"]
    status, again, _ = run_cli(capsys, "evaluate", run)
    assert json.loads(again) == result  # the same positions, the same numbers


def test_evaluate_a_text_file_and_refuse_a_missing_test_split(trained, capsys, tmp_path):
    _, run = trained
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("the dog sat on the mat .\n" * 20, encoding="utf-8")
    status, out, _ = run_cli(capsys, "evaluate", run, "--data", held_out)
    assert status == 0 and json.loads(out)["data"] == str(held_out)
    status, _, err = run_cli(capsys, "evaluate", run, "--split", "test")
    assert_one_line_error(status, err, "no test split", "data.test")


def test_fill_gives_the_likeliest_words_for_each_mask(trained, capsys):
    _, run = trained
    status, out, _ = run_cli(
        capsys,
        "fill",
        run,
        "the cat [MASK] on the mat .",
        "--top-k",
        "3",
        "the [MASK] lay on the [MASK] .",
    )
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == "the cat [MASK] on the mat .  ->  the cat sat on the mat ."
    assert lines[1].startswith("  [MASK] 1: sat ")
    assert len(lines[1].split(", ")) == 3
    assert lines[2] == "the [MASK] lay on the [MASK] .  ->  the dog lay on the rug ."
    assert lines[3].startswith("  [MASK] 1: dog ") and lines[4].startswith("  [MASK] 2: rug ")


def test_fill_reads_stdin_line_by_line(trained, capsys, monkeypatch):
    _, run = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("the cat sat on the [MASK] .\n\nthe [MASK] sat\n"))
    status, out, _ = run_cli(capsys, "fill", run, "--top-k", "1")
    assert status == 0
    assert out.splitlines()[0].endswith("->  the cat sat on the mat .")
    assert len(out.splitlines()) == 4  # two texts, one mask each; the blank line skipped


def test_fill_mask_in_the_api_returns_positions_and_probabilities(trained):
    _, run = trained
    loaded = attnkit.load_run(run)
    filled = attnkit.fill_mask(loaded, "the [MASK] sat on the mat [MASK]", top_k=4)
    assert [mask.position for mask in filled] == [2, 12]  # tokens: the,␣,[MASK],␣,sat,...
    for mask in filled:
        tokens, probs = zip(*mask.candidates, strict=True)
        assert len(tokens) == 4 and list(probs) == sorted(probs, reverse=True)
        assert 0 < sum(probs) <= 1 + 1e-6
    assert filled[0].candidates[0][0] == "cat" and filled[1].candidates[0][0] == "."
    assert attnkit.fill_mask(run, "the [MASK]", top_k=1)[0].position == 2  # a path works too


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("the cat sat on the mat", ("has no [MASK]", "write [MASK] where a word is missing")),
        ("the cat [MASK] on the mat ." * 3, ("text is 39 tokens", "model.max_len=24")),
        ("", ("text='' is empty",)),
    ],
    ids=["no-mask", "too-long", "empty"],
)
def test_fill_errors_are_one_line(trained, capsys, text, fragments):
    _, run = trained
    status, _, err = run_cli(capsys, "fill", run, text)
    assert_one_line_error(status, err, *fragments)


def test_fill_names_the_stdin_line_of_an_error(trained, capsys, monkeypatch):
    _, run = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("the [MASK] sat\nno gap here\n"))
    status, out, err = run_cli(capsys, "fill", run)
    assert_one_line_error(status, err, "line 2: text='no gap here' has no [MASK]")
    assert out.startswith("the [MASK] sat  ->")  # the line before was answered


def test_fill_refuses_a_top_k_of_zero(trained, capsys):
    _, run = trained
    status, _, err = run_cli(capsys, "fill", run, "the [MASK]", "--top-k", "0")
    assert status == 2 and "--top-k" in err


def test_attention_draws_the_bidirectional_self_attention(trained, capsys, tmp_path):
    _, run = trained
    out = tmp_path / "mlm_attention.png"
    status, printed, err = run_cli(
        capsys, "attention", run, "--text", "the cat [MASK] on the mat .", "--out", out
    )
    assert status == 0, err
    assert out.read_bytes().startswith(PNG_MAGIC) and str(out) in printed
    status, _, _ = run_cli(
        capsys,
        "attention",
        run,
        "--text",
        "the [MASK]",
        "--layer",
        "1",
        "--head",
        "0",
        "--out",
        out,
    )
    assert status == 0


def test_info_names_the_family(trained, capsys):
    _, run = trained
    status, out, _ = run_cli(capsys, "info", run)
    assert status == 0 and "masked-language-model encoder" in out


def test_resume_continues_a_masked_language_model(trained, capsys, tmp_path):
    recipe, _ = trained
    run = tmp_path / "run"
    status, _, err = run_cli(
        capsys, "train", recipe, "--out", run, "--quiet", "--set", "train.steps=10"
    )
    assert status == 0, err
    status, out, err = run_cli(
        capsys, "train", recipe, "--out", run, "--quiet", "--resume", "--set", "train.steps=20"
    )
    assert status == 0, err
    assert "at step 20" in out
