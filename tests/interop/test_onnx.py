"""ONNX export: the ViT classifier, the MLM encoder and the decoder LM (no cache) give
attnkit's outputs to 1e-4 in ONNX Runtime, on batch and sequence sizes other than the
ones they were traced with (the axes are dynamic); other families are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from attnkit.config import (
    DataConfig,
    DecoderLMConfig,
    EncoderConfig,
    RunConfig,
    Seq2SeqConfig,
    VisionTransformerConfig,
)
from attnkit.data.tokenizers import train_tokenizer
from attnkit.interop.onnx import export_onnx
from attnkit.models.registry import build_model
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.rundir import RunDir, load_run

from .conftest import randomize, write_run

ort = pytest.importorskip("onnxruntime", reason="make test installs attnkit[engines]")
pytest.importorskip("onnx", reason="make test installs attnkit[engines]")

TEXT = "in the beginning god created the heaven and the earth\n" * 3


def session(directory):
    return ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])


def text_run(tmp_path, config_class, **model):
    tok = train_tokenizer("char", TEXT, vocab_size=64, specials=("<pad>", "[MASK]"))
    settings = {
        "vocab_size": tok.vocab_size,
        "d_model": 32,
        "num_heads": 4,
        "num_layers": 2,
        "max_len": 40,
        "dropout": 0.0,
        **model,
    }
    config = RunConfig(model=config_class(**settings), data=DataConfig(block_size=32))
    return load_run(write_run(tmp_path / "run", config, tok)), tok


@pytest.mark.parametrize(
    ("config_class", "model"),
    [
        (DecoderLMConfig, {}),
        (DecoderLMConfig, {"positional": "rope", "norm": "rmsnorm", "activation": "swiglu"}),
        (EncoderConfig, {"mask_id": 1, "pad_id": 0}),
        (EncoderConfig, {"mask_id": 1, "pad_id": 0, "positional": "relative"}),
    ],
    ids=["decoder LM", "decoder LM rope+swiglu", "MLM encoder", "MLM encoder relative"],
)
def test_text_models_match_on_dynamic_batch_and_sequence(tmp_path, config_class, model):
    run, tok = text_run(tmp_path, config_class, **model)
    exported = export_onnx(run, tmp_path / "onnx")
    assert {"model.onnx", "tokenizer.json", "attnkit.json"} <= set(exported.files)
    assert json.loads((exported.directory / "attnkit.json").read_text())["input"] == "tokens"
    onnx = session(exported.directory)
    generator = torch.Generator().manual_seed(0)
    for batch, length in ((1, 5), (3, 17), (4, 31)):  # traced with (2, 3)
        tokens = torch.randint(2, tok.vocab_size, (batch, length), generator=generator)
        with torch.no_grad():
            expected = run.model(tokens).logits.numpy()
        (got,) = onnx.run(None, {"tokens": tokens.numpy()})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        assert np.abs(expected).max() > 0.1  # random weights: outputs far from zero


def vit_run(tmp_path, **model):
    settings = {
        "num_classes": 3,
        "image_height": 12,
        "image_width": 12,
        "patch_size": 4,
        "d_model": 32,
        "num_heads": 4,
        "num_layers": 2,
        "dropout": 0.0,
        **model,
    }
    config = RunConfig(model=VisionTransformerConfig(**settings), data=DataConfig())
    root = tmp_path / "vit"
    root.mkdir()
    RunDir(root).write_config(config)
    (root / "classes.json").write_text(json.dumps({"classes": ["ant", "bee", "cat"]}))
    net = randomize(build_model(config.model), std=0.3)
    save_checkpoint(root, step=1, model=net, optimizer=None, trainer_state={"step": 1})
    return load_run(root)


@pytest.mark.parametrize("model", [{}, {"stem": "conv", "pooling": "mean"}], ids=["vit", "hybrid"])
def test_vit_matches_on_dynamic_batch_and_classifies_through_the_api(tmp_path, model):
    from attnkit.api import classify

    run = vit_run(tmp_path, **model)
    exported = export_onnx(run, tmp_path / "onnx")
    onnx = session(exported.directory)
    generator = torch.Generator().manual_seed(1)
    for batch in (1, 5):
        images = torch.randn(batch, 1, 12, 12, generator=generator)
        with torch.no_grad():
            expected = run.model(images).logits.numpy()
        (got,) = onnx.run(None, {"images": images.numpy()})
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    picture = torch.randint(0, 256, (1, 12, 12), dtype=torch.uint8, generator=generator)
    ours = classify(run, picture, top_k=3)
    theirs = classify(run, picture, top_k=3, engine="onnx")
    assert [name for name, _ in theirs] == [name for name, _ in ours]
    assert [p for _, p in theirs] == pytest.approx([p for _, p in ours], abs=1e-5)


def test_translator_is_refused_with_the_format_that_takes_it(tmp_path):
    tok = train_tokenizer("char", TEXT, vocab_size=64, specials=("<pad>", "<bos>", "<eos>"))
    model = Seq2SeqConfig(
        src_vocab_size=tok.vocab_size, tgt_vocab_size=tok.vocab_size, d_model=16, num_heads=2
    )
    root = write_run(tmp_path / "mt", RunConfig(model=model, data=DataConfig()), tok)
    with pytest.raises(ValueError, match=r"'seq2seq' model: ONNX export .* ctranslate2"):
        export_onnx(root, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_evaluate_on_onnx_gives_pytorchs_accuracy(tmp_path):
    from attnkit.api import evaluate
    from attnkit.data.images import write_png

    run = vit_run(tmp_path)
    generator = torch.Generator().manual_seed(2)
    for name in ("ant", "bee", "cat"):
        for index in range(4):
            picture = torch.randint(0, 256, (1, 12, 12), dtype=torch.uint8, generator=generator)
            write_png(tmp_path / "images" / name / f"{index}.png", picture)
    root, folder = run.run_dir.root, tmp_path / "images"
    ours = evaluate(root, data=folder, out=tmp_path / "eval")
    theirs = evaluate(root, data=folder, engine="onnx", out=tmp_path / "eval")
    assert theirs["engine"] == "onnx" and theirs["images"] == 12
    assert theirs["accuracy"] == ours["accuracy"]
    assert theirs["loss"] == pytest.approx(ours["loss"], abs=1e-3)
