"""End to end through the command line on tiny data: train, resume, generate, evaluate,
info, attention, plot — and the one-line errors users hit."""

from __future__ import annotations

import json
import re

import pytest

from attnkit.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 60

RECIPE = """
[model]
kind = "decoder_lm"
num_layers = 2
num_heads = 2
d_model = 16
dropout = 0.0
max_len = 32

[data]
train = "{corpus}"
block_size = 16

[train]
steps = 30
batch_size = 4
lr = 1e-2
eval_every = 15
eval_batches = 2
log_every = 5
device = "cpu"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained run shared by the read-only commands."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    recipe = root / "tiny.toml"
    recipe.write_text(RECIPE.format(corpus=corpus), encoding="utf-8")
    run = root / "run"
    assert main(["train", str(recipe), "--out", str(run), "--quiet"]) == 0
    return recipe, run, corpus


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_train_writes_a_complete_run(trained):
    _, run, _ = trained
    for name in ("config.json", "tokenizer.json", "metrics.jsonl", "loss.png"):
        assert (run / name).is_file()
    assert (run / "loss.png").read_bytes().startswith(PNG_MAGIC)


def test_resume_continues_to_more_steps(trained, capsys, tmp_path):
    recipe, _, _ = trained
    copy = tmp_path / "run"
    status, _, err = run_cli(
        capsys, "train", recipe, "--out", copy, "--quiet", "--set", "train.steps=10"
    )
    assert status == 0, err
    status, out, err = run_cli(
        capsys, "train", recipe, "--out", copy, "--resume", "--quiet", "--set", "train.steps=20"
    )
    assert status == 0, err
    assert "finished at step 20" in out
    assert "train.steps = 20 (was 10)" in err


def test_generate_is_reproducible_with_a_seed(trained, capsys):
    _, run, _ = trained
    args = ("generate", run, "--prompt", "ROMEO:", "--max-new-tokens", "20", "--seed", "7")
    status, first, err = run_cli(capsys, *args)
    assert status == 0, err
    _, second, _ = run_cli(capsys, *args)
    _, third, _ = run_cli(capsys, *args[:-1], "8")
    assert first == second != third
    assert first.startswith("ROMEO:") and len(first) == len("ROMEO:") + 20 + 1  # + newline


def test_generate_past_learned_positions_with_a_sliding_window(trained, capsys):
    _, run, _ = trained
    status, out, err = run_cli(
        capsys,
        "generate",
        run,
        "--prompt",
        "ROMEO:",
        "--max-new-tokens",
        "100",
        "--sliding-window",
        "--temperature",
        "0",
    )
    assert status == 0, err
    assert len(out) == len("ROMEO:") + 100 + 1


def test_evaluate_prints_json_metrics(trained, capsys):
    _, run, corpus = trained
    status, out, err = run_cli(capsys, "evaluate", run)
    assert status == 0, err
    metrics = json.loads(out)
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / 0.6931471805599453)
    assert metrics["perplexity"] > 1 and metrics["data"] == "validation split"
    status, out, _ = run_cli(capsys, "evaluate", run, "--data", corpus)
    assert status == 0 and json.loads(out)["chars"] == len(TEXT)


def test_info_shows_config_and_state(trained, capsys):
    _, run, _ = trained
    status, out, _ = run_cli(capsys, "info", run)
    info = json.loads(out)
    assert status == 0 and info["step"] == 30 and info["kind"] == "decoder_lm"
    assert info["parameters"] > 1000 and info["config"]["model"]["d_model"] == 16


def test_attention_and_plot_write_pngs(trained, capsys, tmp_path):
    _, run, _ = trained
    for extra in ([], ["--layer", "1"], ["--layer", "0", "--head", "1"]):
        out = tmp_path / f"attn{len(extra)}.png"
        status, printed, err = run_cli(
            capsys, "attention", run, "--text", "But soft", "--out", out, *extra
        )
        assert status == 0, err
        assert out.read_bytes().startswith(PNG_MAGIC) and str(out) in printed
    status, _, err = run_cli(
        capsys, "attention", run, "--text", "But", "--out", tmp_path / "x.png", "--head", "5"
    )
    assert_one_line_error(status, err, "--head 5", "2")
    status, printed, _ = run_cli(capsys, "plot", run, "--out", tmp_path / "curve.png")
    assert status == 0 and (tmp_path / "curve.png").is_file()


def test_user_errors_are_one_clear_line(trained, capsys, tmp_path):
    recipe, run, _ = trained
    status, _, err = run_cli(capsys, "train", tmp_path / "missing.toml")
    assert_one_line_error(status, err, "no such config file")
    status, _, err = run_cli(capsys, "train", recipe, "--set", "model.num_head=4")
    assert_one_line_error(status, err, "unknown key model.num_head", "did you mean model.num_heads")
    status, _, err = run_cli(capsys, "train", recipe, "--set", "train.lr=-1")
    assert_one_line_error(status, err, "train.lr=-1")
    status, _, err = run_cli(capsys, "train", recipe, "--set", "model.num_heads=5")
    assert_one_line_error(status, err, "model.num_heads=5 does not divide model.d_model=16")
    status, _, err = run_cli(capsys, "generate", run, "--prompt", "ROMEO€")
    assert_one_line_error(status, err, "'€'", "index 5")
    status, _, err = run_cli(
        capsys,
        "generate",
        run,
        "--prompt",
        "ROMEO:",
        "--max-new-tokens",
        "40",
        "--no-sliding-window",
    )
    assert_one_line_error(status, err, "max_len=32", "or pass --sliding-window")
    status, _, err = run_cli(capsys, "generate", run, "--temperature", "-1")
    assert_one_line_error(status, err, "temperature")
    status, _, err = run_cli(capsys, "generate", tmp_path)
    assert_one_line_error(status, err, "not an attnkit run")
    status, _, err = run_cli(capsys, "info", tmp_path / "nope")
    assert_one_line_error(status, err, "nope")
    status, _, err = run_cli(capsys, "train", recipe, "--out", run, "--quiet")
    assert_one_line_error(status, err, "already holds a run", "--resume")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "is empty"), ("tiny text", "too small"), (b"\xff\xfe bad", "UTF-8")],
    ids=["empty", "too-small", "not-utf8"],
)
def test_bad_corpus_is_one_clear_line(tmp_path, capsys, content, fragment):
    corpus = tmp_path / "corpus.txt"
    if isinstance(content, bytes):
        corpus.write_bytes(content)
    else:
        corpus.write_text(content, encoding="utf-8")
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(corpus=corpus), encoding="utf-8")
    status, _, err = run_cli(capsys, "train", recipe, "--out", tmp_path / "run", "--quiet")
    assert_one_line_error(status, err, fragment)
    assert re.search(re.escape(str(corpus)) + "|block_size", err)


@pytest.mark.parametrize("budget", [None, "0.01"], ids=["steps", "time-budget"])
def test_progress_bar_shows_step_loss_speed_and_evaluations(trained, capsys, tmp_path, budget):
    recipe, _, _ = trained
    extra = ["--set", f"train.max_minutes={budget}", "--set", "train.schedule='noam'"]
    steps = "train.steps=100000" if budget else "train.steps=20"
    status, out, err = run_cli(
        capsys,
        "train",
        recipe,
        "--out",
        tmp_path / "run",
        "--set",
        steps,
        *(extra if budget else []),
    )
    assert status == 0, err
    assert "training" in err and "parameters on cpu" in err
    for field in (r"step=\d+", r"loss=\d\.\d{3}", r"tok_s=\d+"):  # tqdm sorts the fields
        assert re.search(field, err), field
    assert "val loss" in err
    assert ("time budget" in out) == bool(budget)


def test_int8_generate_and_evaluate(trained, capsys):
    _, run, _ = trained
    args = ("generate", run, "--prompt", "ROMEO:", "--max-new-tokens", "20", "--seed", "7")
    status, out, err = run_cli(capsys, *args, "--int8")
    assert status == 0, err
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 20 + 1
    _, fp32, _ = run_cli(capsys, "evaluate", run)
    status, out, err = run_cli(capsys, "evaluate", run, "--int8")
    assert status == 0, err
    int8, fp32 = json.loads(out), json.loads(fp32)
    assert int8["int8"] is True and "int8" not in fp32
    assert int8["loss"] == pytest.approx(fp32["loss"], rel=0.05)  # close, as the docs report


def test_api_errors_name_parameters_and_the_cli_words_them_as_options(trained, tmp_path):
    from attnkit import api

    _, run_dir, _ = trained
    run = api.load_run(run_dir)
    with pytest.raises(ValueError, match=r"max_new_tokens=40 exceeds model.max_len=32") as info:
        list(api.generate(run, "ROMEO:", max_new_tokens=40, sliding_window=False))
    assert "pass sliding_window=True" in str(info.value) and "--" not in str(info.value)
    with pytest.raises(ValueError, match=r"prompt='' is empty"):
        list(api.generate(run, ""))
    with pytest.raises(ValueError, match=r"head=5 does not exist: the model has 2 heads"):
        api.plot_run_attention(run_dir, "But", tmp_path / "x.png", head=5)
    with pytest.raises(ValueError, match=r"fewer than last=99; train with train.keep_last"):
        api.average_checkpoints(run_dir, tmp_path / "avg", last=99)


def test_a_language_model_run_says_which_functions_and_commands_fit_it(trained, capsys, tmp_path):
    from attnkit import api

    _, run_dir, _ = trained
    run = api.load_run(run_dir)
    fit = "use generate(), evaluate() or plot_run_attention()"
    with pytest.raises(
        ValueError, match=re.escape(f"holds a language model, not a translator: {fit}")
    ):
        api.translate(run, ["hello"])
    with pytest.raises(ValueError, match=re.escape(f"not an image classifier: {fit}")):
        api.classify(run, tmp_path / "x.png")
    with pytest.raises(ValueError, match=re.escape(f"not a captioner: {fit}")):
        api.caption(run, tmp_path / "x.png")
    with pytest.raises(
        ValueError, match=re.escape(f"not an image model, so image= does not apply: {fit}")
    ):
        api.plot_image_attention(run_dir, tmp_path / "x.png", tmp_path / "a.png")
    with pytest.raises(ValueError, match=re.escape(f"not an image model: {fit}")):
        api.write_vision_samples(run_dir, tmp_path / "samples")
    status, _, err = run_cli(
        capsys, "attention", run_dir, "--image", tmp_path / "x.png", "--out", tmp_path / "a.png"
    )
    assert_one_line_error(
        status,
        err,
        "holds a language model, not an image model, so --image does not apply: use "
        "`attnkit generate`, `attnkit evaluate` or `attnkit attention --text`",
    )
    status, out, _ = run_cli(capsys, "info", run_dir)
    info = json.loads(out)
    assert status == 0 and info["family"] == "language model"
    assert info["tokenizer"] == {
        "kind": "char",
        "vocab_size": info["config"]["model"]["vocab_size"],
    }
