"""Export an attnkit run as a Hugging Face model directory.

``export_hf(RUN, out=DIR)`` writes what ``transformers`` loads with ``from_pretrained``
and no custom code: ``config.json``, ``model.safetensors`` and the tokenizer files
(:mod:`~attnkit.interop.hf_tokenizers`). A decoder-only language model becomes
``GPT2LMHeadModel`` (:mod:`~attnkit.interop.gpt2`), the encoder ``BertForMaskedLM`` —
or ``BertModel`` when it has no masked-word head (:mod:`~attnkit.interop.bert`). The
logits are attnkit's to float rounding; a variant the target cannot express is refused
with one line naming the setting, before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from attnkit.interop import bert, gpt2
from attnkit.interop.hf_tokenizers import write_tokenizer_files
from attnkit.interop.weights import write_safetensors
from attnkit.training.rundir import load_run

__all__ = ["EXPORTERS", "FORMATS", "ExportedModel", "export_hf"]

# What `attnkit export --format` writes: hf here; ctranslate2 and onnx in their modules.
FORMATS = ("hf", "ctranslate2", "onnx")


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_hf` wrote.

    Attributes:
        directory: the new model directory.
        architecture: the ``transformers`` class that loads it.
        files: the files written.
        auto_class: the ``transformers`` Auto class to load it with.
    """

    directory: Path
    architecture: str
    files: list[str]
    auto_class: str


def _bert(model: nn.Module) -> tuple[dict[str, Any], dict[str, Tensor], str]:
    auto = "AutoModelForMaskedLM" if model.config.mlm_head else "AutoModel"
    return bert.bert_config_from_encoder(model.config), bert.bert_state_from_encoder(model), auto


def _gpt2(model: nn.Module) -> tuple[dict[str, Any], dict[str, Tensor], str]:
    config, tensors = (
        gpt2.gpt2_config_from_decoder(model.config),
        gpt2.gpt2_state_from_decoder(model),
    )
    return config, tensors, "AutoModelForCausalLM"


# model.kind → its exporter: (config.json, tensors, the Auto class that loads them)
EXPORTERS: dict[str, Callable[[nn.Module], tuple[dict[str, Any], dict[str, Tensor], str]]] = {
    "decoder_lm": _gpt2,
    "encoder": _bert,
}


def export_hf(run_dir: str | Path, out: str | Path) -> ExportedModel:
    """Write the best model of the run ``run_dir`` as a Hugging Face model directory
    ``out`` (new, or empty).

    Raises:
        ValueError: the run's family has no Hugging Face counterpart here, a setting the
            target architecture cannot express (named), or ``out`` is not empty.
        CheckpointError: the run cannot be loaded.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out={str(out)!r} exists and is not an empty folder: pass a new one")
    run = load_run(run_dir)
    kind = run.config.model.kind
    if kind not in EXPORTERS:
        raise ValueError(
            f"{run.run_dir.root} holds a {kind!r} model: export writes decoder-only language "
            f"models (as GPT-2) and encoders (as BERT)"
        )
    config, tensors, auto_class = EXPORTERS[kind](run.model)
    # transformers' own defaults (GPT-2's 50256) would point outside a small vocabulary
    config["bos_token_id"] = getattr(run.tokenizer, "bos_id", None)
    config["eos_token_id"] = getattr(run.tokenizer, "eos_id", None)
    # Everything is written to a temporary folder beside out and moved in place at the
    # end, so a failure never leaves a half-written model directory.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        write_safetensors(staging / "model.safetensors", tensors)
        files = ["config.json", "model.safetensors"]
        files += write_tokenizer_files(run.tokenizer, staging, max_len=run.config.model.max_len)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportedModel(out, config["architectures"][0], files, auto_class)
