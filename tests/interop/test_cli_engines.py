"""The engines through the command line: `export --format ctranslate2|onnx`, and
`--engine` on translate, generate, evaluate and classify giving what PyTorch gives; a
variant the engine cannot express, or an engine that is not installed, is one line."""

from __future__ import annotations

import json

import pytest

from attnkit.cli import main
from attnkit.cli.interop import QUANTIZATIONS
from attnkit.interop import ctranslate2 as ct2_export

from .test_ctranslate2 import SOURCES, lm_run, translator_run
from .test_onnx import vit_run

pytest.importorskip("ctranslate2", reason="make test installs attnkit[engines]")
pytest.importorskip("onnxruntime", reason="make test installs attnkit[engines]")


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_cli_offers_ctranslate2s_weight_types():
    assert QUANTIZATIONS == ct2_export.QUANTIZATIONS


def test_translate_and_evaluate_on_ctranslate2_match_pytorch(tmp_path, capsys):
    root = translator_run(tmp_path, norm_first=True).run_dir.root
    args = ("translate", root, *SOURCES, "--beam", "1", "--max-new-tokens", "10")
    status, pytorch, err = cli(capsys, *args)
    assert status == 0, err
    status, engine, err = cli(capsys, *args, "--engine", "ctranslate2")
    assert status == 0, err
    assert engine == pytorch and len(engine.splitlines()) == len(SOURCES)
    status, int8, err = cli(capsys, *args, "--engine", "ctranslate2", "--int8")
    assert status == 0 and len(int8.splitlines()) == len(SOURCES), err
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{s}\t{s}\n" for s in SOURCES), encoding="utf-8")
    scores = {}
    for engine_name in ("pytorch", "ctranslate2"):
        status, out, err = cli(
            capsys,
            "evaluate", root, "--data", pairs, "--beam", "1", "--engine", engine_name,
            "--out", tmp_path / "eval",
        )  # fmt: skip
        assert status == 0, err
        scores[engine_name] = json.loads(out)
    assert scores["ctranslate2"]["engine"] == "ctranslate2"
    assert scores["ctranslate2"]["bleu"] == scores["pytorch"]["bleu"]
    assert scores["ctranslate2"]["chrf"] == scores["pytorch"]["chrf"]


def test_export_ctranslate2_writes_the_model_and_refuses_what_it_cannot_express(tmp_path, capsys):
    root = translator_run(tmp_path).run_dir.root
    status, out, err = cli(
        capsys, "export", root, "--format", "ctranslate2", "--quantization", "int8",
        "--out", tmp_path / "ct2",
    )  # fmt: skip
    assert status == 0, err
    assert "ctranslate2.Translator" in out and (tmp_path / "ct2" / "model.bin").is_file()
    bad = translator_run(tmp_path / "bad", score="general").run_dir.root
    status, out, err = cli(
        capsys, "export", bad, "--format", "ctranslate2", "--out", tmp_path / "x"
    )
    assert status == 2 and err.startswith("error: model.score='general' cannot be expressed as")
    assert len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
    status, _, err = cli(capsys, "export", bad, "--format", "onnx", "--out", tmp_path / "y")
    assert status == 2 and "ctranslate2" in err and len(err.splitlines()) == 1


def test_generate_on_ctranslate2_matches_pytorch_greedy(tmp_path, capsys):
    root = lm_run(tmp_path).run_dir.root
    args = ("generate", root, "--prompt", "to be", "--max-new-tokens", "30", "--temperature", "0")
    status, pytorch, err = cli(capsys, *args)
    assert status == 0, err
    status, engine, err = cli(capsys, *args, "--engine", "ctranslate2")
    assert status == 0, err
    assert engine == pytorch and len(engine) > len("to be\n")
    status, sampled, err = cli(
        capsys, *args[:-2], "--temperature", "1.0", "--top-k", "5", "--seed", "3",
        "--engine", "ctranslate2",
    )  # fmt: skip
    assert status == 0 and sampled.startswith("to be"), err


def test_classify_and_export_on_onnx(tmp_path, capsys):
    import torch

    from attnkit.data.images import write_png

    run = vit_run(tmp_path)
    picture = torch.randint(0, 256, (1, 12, 12), dtype=torch.uint8)
    image = write_png(tmp_path / "x.png", picture)
    status, pytorch, err = cli(capsys, "classify", run.run_dir.root, image)
    assert status == 0, err
    status, engine, err = cli(capsys, "classify", run.run_dir.root, image, "--engine", "onnx")
    assert status == 0, err
    assert engine == pytorch
    status, _out, err = cli(
        capsys, "export", run.run_dir.root, "--format", "onnx", "--out", tmp_path / "onnx"
    )
    assert status == 0 and (tmp_path / "onnx" / "model.onnx").is_file(), err


def test_a_missing_engine_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # `import ctranslate2` fails
    root = translator_run(tmp_path).run_dir.root
    status, _, err = cli(capsys, "translate", root, "la casa", "--engine", "ctranslate2")
    assert status == 2
    assert err == (
        "error: ctranslate2 is not installed: the inference engines are an optional extra, "
        "pip install 'attnkit[engines]'\n"
    )


def test_engine_on_the_wrong_family_is_one_line(tmp_path, capsys):
    root = lm_run(tmp_path).run_dir.root
    status, _, err = cli(capsys, "evaluate", root, "--engine", "ctranslate2")
    assert status == 2 and "'ctranslate2' evaluates a translator" in err and "decoder_lm" in err
    assert len(err.splitlines()) == 1
