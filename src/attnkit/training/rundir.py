"""The run directory: everything a training run leaves behind, and how to load it.

RUN_DIR/
  config.json        the resolved config (vocabulary sizes filled in)
  tokenizer.json     the tokenizer
  metrics.jsonl      one JSON line per log / evaluation / skipped update
  checkpoints/       step-NNNNNNNN/ {model,optimizer,rng}.safetensors + state.json;
                     latest.json and best.json point at one of them
  loss.png           the loss curve (written at the end of training)
  train.lock         while a training writes here: who it is (see runlock)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from attnkit.config import (
    TRANSLATION_KINDS,
    ConfigError,
    RunConfig,
    run_config_from_dict,
    run_config_to_dict,
)
from attnkit.models.registry import build_model
from attnkit.nn.quantization import quantize_int8
from attnkit.protocols import Tokenizer
from attnkit.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_steps,
    load_checkpoint,
    newest_intact_checkpoint,
    restore_model,
    write_json_atomic,
)
from attnkit.training.image_tasks import CLASSES_FILE, read_classes
from attnkit.training.tasks import TranslationTokenizers

__all__ = ["LoadedRun", "RunDir", "load_run"]


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def loss_curve(self) -> Path:
        return self.root / "loss.png"

    def has_checkpoint(self) -> bool:
        """Whether a training has saved here (a ``latest.json``, or any ``step-*`` left)."""
        return (self.checkpoints / "latest.json").is_file() or bool(checkpoint_steps(self.root))

    def write_config(self, config: RunConfig) -> None:
        write_json_atomic(self.config, run_config_to_dict(config))

    def read_config(self) -> RunConfig:
        if not self.config.is_file():
            raise CheckpointError(f"{self.root} is not an attnkit run: no config.json")
        try:
            values = json.loads(self.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.config} is unreadable: {exc}") from None
        return run_config_from_dict(values)


@dataclass
class LoadedRun:
    """A trained model with its config, tokenizer(s) and checkpoint.

    ``tokenizer`` reads and writes the model's output text (the target language of a
    translator); ``source_tokenizer`` reads a translator's input (the same object when
    the vocabulary is joint; equal to ``tokenizer`` for language models). An image
    classifier has no tokenizer (``None``) but ``classes``.
    """

    run_dir: RunDir
    config: RunConfig
    tokenizer: Tokenizer | None
    model: nn.Module
    checkpoint: Checkpoint
    source_tokenizer: Tokenizer | None = None
    classes: list[str] | None = None  # an image classifier's class names (no tokenizer)

    @property
    def is_translator(self) -> bool:
        return self.config.model.kind in TRANSLATION_KINDS


def load_run(
    run_dir: str | Path,
    *,
    which: str = "best",
    checkpoint: int | None = None,
    device: Any = "cpu",
    int8: bool = False,
) -> LoadedRun:
    """Rebuild a run's model from its saved config and load its weights.

    The model is built from the run's own ``config.json`` (never from today's defaults)
    and put in eval mode. ``which`` is ``"best"`` (falls back to the latest when no
    evaluation marked a best) or ``"latest"``; ``checkpoint`` picks the checkpoint saved
    at that step instead. Only the weights are read (a damaged optimizer file does not
    matter here). ``int8`` quantizes its linear layers for faster CPU inference
    (:func:`~attnkit.nn.quantization.quantize_int8`).

    Raises:
        CheckpointError: the folder is not a run, a file is missing or corrupt (the
            message then names the newest intact checkpoint, to pass as ``checkpoint``),
            or the run keeps no checkpoint of step ``checkpoint``.
        ValueError: ``checkpoint`` is not an int >= 0.
    """
    if checkpoint is not None and (
        isinstance(checkpoint, bool) or not isinstance(checkpoint, int) or checkpoint < 0
    ):
        raise ValueError(f"checkpoint={checkpoint!r}: give the step of a saved checkpoint")
    root = Path(run_dir)
    if root.is_file():
        raise CheckpointError(f"{root} is a file, not a run directory (what training writes)")
    if not root.is_dir():
        raise CheckpointError(f"no such run directory: {root}")
    paths = RunDir(root)
    try:
        config = paths.read_config()
    except ConfigError as exc:
        raise CheckpointError(f"{paths.config}: {exc}") from None
    classes, tokenizer, source_tokenizer = None, None, None
    if paths.tokenizer.is_file():
        tokenizers = TranslationTokenizers.load(root)
        tokenizer, source_tokenizer = tokenizers.target, tokenizers.source
    elif (root / CLASSES_FILE).is_file():  # an image classifier: class names, no tokenizer
        try:
            classes = list(read_classes(root)["classes"])
        except (RuntimeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{root / CLASSES_FILE} is unreadable: {exc}") from None
    else:
        raise CheckpointError(f"{root} is not an attnkit run: no tokenizer.json")
    if which == "best" and not (paths.checkpoints / "best.json").is_file():
        which = "latest"
    loaded = _load_weights(root, which=which, step=checkpoint)
    model = build_model(config.model)
    restore_model(model, loaded)
    model.to(device).eval()
    if int8:
        model = quantize_int8(model)
    return LoadedRun(
        paths,
        config,
        tokenizer,
        model,
        loaded,
        source_tokenizer=source_tokenizer,
        classes=classes,
    )


def _load_weights(root: Path, *, which: str, step: int | None) -> Checkpoint:
    """The weights of a run's checkpoint; when it is damaged (or the pointer to it is), a
    refusal naming it and the newest checkpoint that is intact."""
    try:
        return load_checkpoint(root, which=which, step=step, weights_only=True)
    except CheckpointError as exc:
        kept = checkpoint_steps(root)
        if not kept:
            raise
        intact = newest_intact_checkpoint(root, weights_only=True)
        if intact is None:
            listed = ", ".join(str(s) for s in sorted(kept))
            raise CheckpointError(
                f"{exc}; no checkpoint of this run is intact (steps {listed})"
            ) from None
        raise CheckpointError(
            f"{exc}; the newest intact checkpoint is step {intact.step}: "
            f"pass checkpoint={intact.step}"
        ) from None
