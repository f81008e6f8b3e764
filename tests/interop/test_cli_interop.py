"""The interop commands end to end: ``import-hf`` makes a run every command takes
(``info``, ``attention``, ``fill``, ``embed``), ``export`` writes what transformers loads,
and mistakes end in one ``error:`` line."""

from __future__ import annotations

import json

import pytest
import torch

import attnkit
from attnkit.cli import main
from attnkit.cli.interop import EXPORT_FORMATS
from attnkit.interop.hf_export import FORMATS

from .conftest import write_bert_dir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def imported(tmp_path, capsys):
    source = write_bert_dir(tmp_path / "hf", mlm=True)
    status, out, _ = run_cli(capsys, "import-hf", source, "--out", tmp_path / "run")
    assert status == 0, out
    return tmp_path / "run", out


def test_import_hf_makes_a_run_every_command_takes(imported, tmp_path, capsys):
    run, printed = imported
    assert f"imported BertForMaskedLM (0.0 M parameters) from {tmp_path / 'hf'}" in printed
    assert "use it with: attnkit info, attnkit attention, attnkit fill, attnkit embed" in printed
    status, out, _ = run_cli(capsys, "info", run)
    info = json.loads(out)
    assert status == 0 and info["kind"] == "encoder" and info["step"] == 0
    assert info["steps_planned"] is None and info["imported_from"]  # trained elsewhere
    assert info["config"]["model"]["norm_eps"] == 1e-12
    assert info["config"]["model"]["type_vocab_size"] == 2
    status, out, _ = run_cli(
        capsys, "attention", run, "--text", "god saw the light", "--out", tmp_path / "a.png"
    )
    assert status == 0 and (tmp_path / "a.png").read_bytes().startswith(PNG_MAGIC)
    status, out, _ = run_cli(capsys, "fill", run, "the lord [MASK] unto moses", "--top-k", "3")
    assert status == 0 and out.startswith("the lord [MASK] unto moses  ->  ")
    assert out.count("[MASK] 1:") == 1


def test_embed_prints_unit_vectors_and_similarities(imported, capsys):
    run, _ = imported
    texts = ["god saw the light", "the light was good", "moses"]
    status, out, _ = run_cli(capsys, "embed", run, *texts)
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [row["text"] for row in rows] == texts
    vectors = torch.tensor([row["embedding"] for row in rows])
    assert vectors.shape == (3, 32)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(vectors, attnkit.embed(run, texts), atol=1e-6)
    status, out, _ = run_cli(capsys, "embed", run, "--similarity", *texts)
    assert status == 0 and "cosine similarity:" in out
    assert out.splitlines()[-3].split()[1] == "1.000"  # a text is itself
    status, out, _ = run_cli(capsys, "embed", run, "--no-normalize", "moses")
    assert abs(torch.tensor(json.loads(out)["embedding"]).norm() - 1) > 1e-3


def test_export_then_import_through_the_command_line(imported, tmp_path, capsys):
    run, _ = imported
    status, out, _ = run_cli(capsys, "export", run, "--format", "hf", "--out", tmp_path / "out")
    assert status == 0
    assert f"exported {run} as BertForMaskedLM to {tmp_path / 'out'}" in out
    assert "transformers.AutoModelForMaskedLM.from_pretrained" in out
    status, out, _ = run_cli(capsys, "import-hf", tmp_path / "out", "--out", tmp_path / "back")
    assert status == 0 and "from" in out


def test_mistakes_end_in_one_error_line(imported, tmp_path, capsys):
    run, _ = imported
    cases = [
        (["import-hf", tmp_path / "nowhere", "--out", tmp_path / "x"], "no such model directory"),
        (
            ["import-hf", tmp_path / "hf", "--out", run],
            "already holds a run: pass a new directory as --out",
        ),
        (["export", run, "--out", tmp_path / "hf"], "exists and is not an empty folder"),
        (["embed", run, ""], "texts[0]='' is empty"),
        (["embed", run, "moses " * 50], "tokens but model.max_len=40 (learned positions)"),
        (
            ["export", run, "--format", "tflite", "--out", tmp_path / "y"],
            "invalid choice: 'tflite'",
        ),
    ]
    for argv, message in cases:
        status, _, err = run_cli(capsys, *argv)
        assert status == 2, argv
        assert err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1, err


def test_embed_needs_an_encoder(tmp_path, capsys):
    from .test_gpt2 import decoder_run

    run_dir, _ = decoder_run(tmp_path)
    status, _, err = run_cli(capsys, "embed", run_dir, "hello")
    assert status == 2
    assert err == (
        f"error: {run_dir} holds a language model, not an encoder: use `attnkit generate`, "
        "`attnkit evaluate` or `attnkit attention --text`\n"
    )


def test_the_cli_offers_the_formats_export_writes():
    assert EXPORT_FORMATS == FORMATS


def test_fill_on_an_encoder_without_mlm_head_points_to_embed(tmp_path, capsys):
    source = write_bert_dir(tmp_path / "hf", mlm=False)  # a BertModel: hidden states only
    status, _, _ = run_cli(capsys, "import-hf", source, "--out", tmp_path / "run")
    assert status == 0
    status, out, err = run_cli(capsys, "fill", tmp_path / "run", "the lord [MASK] unto moses")
    assert status == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: this encoder has no MLM head (model.mlm_head=false) to fill masks: use "
        "attnkit embed for its sentence embeddings"
    ]


def test_a_reader_that_goes_away_ends_the_output_quietly(imported):
    import os
    import subprocess
    import sys

    run, _ = imported
    # `attnkit info RUN | head -1` once head has exited: every write finds the pipe closed
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "attnkit", "info", str(run)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0 and done.stderr == ""
