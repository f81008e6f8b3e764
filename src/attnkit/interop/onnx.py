"""Export single-forward models to ONNX, for ONNX Runtime and other ONNX engines.

``export_onnx(RUN, out=DIR)`` writes ``model.onnx`` (with ``torch.onnx.export``) and the
files that read its inputs, for the models that give their answer in one forward
pass:

    model.kind   input (dynamic axes)                         output
    vit          images  (batch, C, H, W) float, normalised   logits (batch, classes)
    encoder      tokens  (batch, sequence) int64              logits (batch, sequence, vocab)
                                                              (or hidden states, no MLM head)
    decoder_lm   tokens  (batch, sequence) int64              logits (batch, sequence, vocab)

The decoder LM is exported without its key/value cache: one call scores a whole
sequence (perplexity, reranking); step-by-step generation belongs to CTranslate2
(:mod:`~attnkit.interop.ctranslate2`). Encoder inputs are unpadded or padded with the
run's ``pad_id`` (the model finds padding from it). The export traces attnkit's
reference path (:func:`attnkit.nn.fast.reference_mode`), the plain maths, so the graph
holds no CPU-specific shortcut.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.interop.ctranslate2 import ExportedEngineModel, import_engine
from attnkit.nn import fast
from attnkit.training.rundir import LoadedRun, load_run

__all__ = ["ONNX_KINDS", "export_onnx", "onnx_session"]

ONNX_KINDS = ("vit", "encoder", "decoder_lm")
OPSET = 17


class _RMSNorm(nn.Module):
    """``nn.RMSNorm``'s maths in plain operations: the TorchScript exporter has no
    ``aten::rms_norm``."""

    def __init__(self, norm: nn.RMSNorm):
        super().__init__()
        self.weight = norm.weight
        self.eps = torch.finfo(torch.float32).eps if norm.eps is None else norm.eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _exportable(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every RMSNorm written out (same numbers)."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.RMSNorm):
                setattr(module, child_name, _RMSNorm(child))
    return model


class _Logits(nn.Module):
    """The model with one tensor in and one out, as an ONNX graph has them."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor) -> Tensor:
        out = self.model(inputs)
        return out.logits if out.logits is not None else out.hidden


def _example(run: LoadedRun) -> tuple[Tensor, str, dict[int, str], dict[int, str]]:
    """An example input, its name and the dynamic axes of input and output."""
    config = run.config.model
    if config.kind == "vit":
        images = torch.randn(2, config.channels, config.image_height, config.image_width)
        return images, "images", {0: "batch"}, {0: "batch"}
    # Real tokens (no padding): any ids trace the same graph.
    pad = getattr(config, "pad_id", None)
    real = next(i for i in range(config.vocab_size) if i != pad)
    tokens = torch.full((2, 3), real, dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    return tokens, "tokens", axes, axes


def export_onnx(run_dir: str | Path | LoadedRun, out: str | Path) -> ExportedEngineModel:
    """Write the best model of the run ``run_dir`` (or a loaded run) as ONNX into the
    folder ``out`` (new, or empty): ``model.onnx``, ``attnkit.json`` (what the input
    is) and the run's ``tokenizer.json`` or ``classes.json``.

    Raises:
        ValueError: the run's family is not a single-forward model, or ``out`` is not
            empty.
        OSError: ``onnx`` is not installed (the one line names the extra).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out={str(out)!r} exists and is not an empty folder: pass a new one")
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    kind = run.config.model.kind
    if kind not in ONNX_KINDS:
        raise ValueError(
            f"{run.run_dir.root} holds a {kind!r} model: ONNX export takes single-forward "
            f"models ({', '.join(ONNX_KINDS)}); translators go to --format ctranslate2"
        )
    import_engine("onnx")
    example, name, in_axes, out_axes = _example(run)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        wrapper = _Logits(_exportable(run.model)).eval()
        # The tracer warns about every Python int it freezes (argument checks); the
        # tests check the graph on other batch and sequence sizes instead.
        with fast.reference_mode(), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (example,),
                str(staging / "model.onnx"),
                dynamo=False,
                input_names=[name],
                output_names=["logits"],
                dynamic_axes={name: in_axes, "logits": out_axes},
                opset_version=OPSET,
            )
        files = ["model.onnx"]
        for extra in ("tokenizer.json", "classes.json"):
            if (run.run_dir.root / extra).is_file():
                shutil.copyfile(run.run_dir.root / extra, staging / extra)
                files.append(extra)
        meta = {"kind": kind, "input": name, "output": "logits", "opset": OPSET}
        if kind == "vit":
            meta["normalize"] = "attnkit.data.images.normalize_images (uint8 → float)"
        (staging / "attnkit.json").write_text(json.dumps(meta, indent=2) + "\n")
        files.append("attnkit.json")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportedEngineModel(out, "onnxruntime.InferenceSession", files)


def onnx_session(run: LoadedRun, *, threads: int = 1) -> Any:
    """An ``onnxruntime.InferenceSession`` of the run's model (exported to a temporary
    folder, read into memory), using ``threads`` threads.

    Raises:
        ValueError: the run's family has no ONNX export (named).
        OSError: ``onnxruntime`` or ``onnx`` is not installed (names the extra).
    """
    ort = import_engine("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory(prefix="attnkit-onnx-") as folder:
        exported = export_onnx(run, Path(folder) / "model")
        data = (exported.directory / "model.onnx").read_bytes()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
