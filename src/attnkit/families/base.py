"""The protocols a run's family answers to, and what several families share.

:class:`Family` is what every family has: a name and a description. Each operation the
API offers on a loaded run is a protocol of its own (:class:`Evaluates`,
:class:`Generates`, :class:`Translates`, ...): a family implements the ones that make
sense for it and nothing else, so ``isinstance(family, Translates)`` answers "can this
run translate?" without looking at a model kind.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from attnkit.data.images import fit_image, read_image
from attnkit.decoding.bounds import RowCost
from attnkit.protocols import Tokenizer
from attnkit.training.rundir import LoadedRun

__all__ = [
    "Captions",
    "Classifies",
    "DrawsImageAttention",
    "DrawsTextAttention",
    "Embeds",
    "Evaluates",
    "Family",
    "FilledMask",
    "FillsMasks",
    "Generates",
    "HoldsOutImages",
    "Progress",
    "Translates",
    "check_layer_head",
    "decoding_cost",
    "encode_text",
    "in_run_terms",
    "model_image",
    "token_label",
    "tokenizer_summary",
    "write_outputs",
]

Progress = Callable[[int, int], None]
"""Told ``(done, total)`` as an evaluation goes (sentences, images or blocks of text)."""


@runtime_checkable
class Family(Protocol):
    """What every family has: ``noun`` names its runs in messages ("language model")."""

    noun: str

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        """What :func:`attnkit.api.run_info` adds for this family (its vocabulary)."""
        ...


@runtime_checkable
class Evaluates(Protocol):
    """Scores a run on held-out data (:func:`attnkit.api.evaluate`); what it writes
    beside the scores (hypotheses, figures) goes into the folder ``out``
    (:func:`write_outputs`), and ``progress`` hears how far it is."""

    def evaluate(
        self,
        run: LoadedRun,
        *,
        data: str | Path | None,
        split: str,
        beam: int,
        length_penalty: float,
        int8: bool,
        out: Path,
        progress: Progress | None,
    ) -> dict[str, Any]: ...


@runtime_checkable
class Generates(Protocol):
    """Continues a prompt, yielding text as it comes (:func:`attnkit.api.generate`)."""

    def generate(
        self,
        run: LoadedRun,
        prompt: str,
        *,
        max_new_tokens: int,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        seed: int | None,
        sliding_window: bool,
    ) -> Iterator[str]: ...


@runtime_checkable
class Translates(Protocol):
    """The ``n_best`` best translations of each sentence (:func:`attnkit.api.translate`)."""

    def translate(
        self,
        run: LoadedRun,
        sentences: Sequence[str],
        *,
        beam: int,
        length_penalty: float,
        n_best: int,
        max_new_tokens: int | None,
    ) -> list[list[str]]: ...


@runtime_checkable
class Classifies(Protocol):
    """The ``top_k`` likeliest classes of one image (:func:`attnkit.api.classify`)."""

    def classify(
        self, run: LoadedRun, image: str | Path | Tensor, *, top_k: int
    ) -> list[tuple[str, float]]: ...


@runtime_checkable
class Captions(Protocol):
    """A caption for one image (:func:`attnkit.api.caption`)."""

    def caption(
        self, run: LoadedRun, image: str | Path | Tensor, *, beam: int, length_penalty: float
    ) -> str: ...


@dataclass(frozen=True)
class FilledMask:
    """The candidates for one ``[MASK]`` of a text (:func:`attnkit.api.fill_mask`).

    Attributes:
        position: the mask's index among the text's tokens.
        candidates: ``(token, probability)`` pairs, the likeliest first; a token is the
            text it decodes to (with its leading space, for byte-level BPE).
    """

    position: int
    candidates: list[tuple[str, float]]


@runtime_checkable
class FillsMasks(Protocol):
    """The ``top_k`` likeliest tokens for each ``[MASK]`` of a text
    (:func:`attnkit.api.fill_mask`)."""

    def fill_mask(self, run: LoadedRun, text: str, *, top_k: int) -> list[FilledMask]: ...


@runtime_checkable
class Embeds(Protocol):
    """One vector per text, from an encoder's pooled states (:func:`attnkit.api.embed`).

    Shape:
        returns ``(N, D)`` for ``N`` texts.
    """

    def embed(
        self, run: LoadedRun, texts: Sequence[str], *, normalize: bool, batch_size: int
    ) -> Tensor: ...


@runtime_checkable
class DrawsTextAttention(Protocol):
    """Draws the attention over a text (:func:`attnkit.api.plot_run_attention`)."""

    def plot_text_attention(
        self, run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
    ) -> Path: ...


@runtime_checkable
class DrawsImageAttention(Protocol):
    """Draws the attention over a picture (:func:`attnkit.api.plot_image_attention`)."""

    def plot_image_attention(
        self,
        run: LoadedRun,
        image: str | Path | Tensor,
        out: Path,
        *,
        layer: int | None,
        head: int | None,
    ) -> Path: ...


@runtime_checkable
class HoldsOutImages(Protocol):
    """Held-out pictures of a run's data and a name for each
    (:func:`attnkit.api.write_vision_samples`).

    Shape:
        images ``(N, C, H, W)`` uint8, with ``N`` names.
    """

    def held_out_images(self, run: LoadedRun, split: str) -> tuple[Tensor, list[str]]: ...


# --------------------------------------------------------------------------- shared


def check_layer_head(layer: int | None, head: int | None, num_layers: int, num_heads: int):
    """Raise ``ValueError`` naming ``layer`` or ``head`` if the model has no such one."""
    for name, value, limit in (("layer", layer, num_layers), ("head", head, num_heads)):
        if value is not None and not 0 <= value < limit:
            raise ValueError(
                f"{name}={value} does not exist: the model has {limit} {name}s (0–{limit - 1})"
            )


def token_label(text: str) -> str:
    """A token as an axis label: whitespace made visible, nothing shown as ``∅``."""
    return text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


def in_run_terms(message: str) -> str:
    """A tokenizer's message in a run's terms: a run gets ``<unk>`` from its recipe's
    ``data.unk``, not from the tokenizer's ``unk=`` argument."""
    return message.replace("or train with unk=True", "or retrain the run with data.unk=true")


def encode_text(run: LoadedRun, text: str, *, parameter: str) -> list[int]:
    """``text`` as the run's token ids; ``parameter`` names it if it is empty or holds
    a character the run's vocabulary lacks."""
    if not text:
        raise ValueError(
            f"{parameter}='' is empty: give at least one character, e.g. {parameter}='\\n'"
        )
    try:
        return run.tokenizer.encode(text)
    except ValueError as exc:
        raise ValueError(f"{parameter}: {in_run_terms(str(exc))}") from None


def decoding_cost(run: LoadedRun) -> RowCost:
    """What one decoder row of the run's model holds while it decodes (for
    :func:`attnkit.decoding.bounds.fit_batch`): logits over its output vocabulary and
    its decoder's state."""
    config = run.config.model
    layers = getattr(config, "num_decoder_layers", None) or getattr(config, "num_layers", 1)
    vocab_size = run.tokenizer.vocab_size
    if hasattr(config, "hidden_size"):  # a recurrent decoder: hidden states, input feeding
        return RowCost(vocab_size, 0, (2 * layers + 1) * config.hidden_size)
    return RowCost(vocab_size, 2 * layers * config.d_model)  # keys + values per layer


def write_outputs(out: Path, files: dict[str, str]) -> dict[str, str]:
    """Write text ``files`` (name → content) into the folder ``out``; returns name →
    path written. A folder that cannot be written (a read-only run directory) costs a
    one-line warning, not the scores computed before."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
            written[name] = str(out / name)
        return written
    except OSError as exc:
        warnings.warn(
            f"cannot write into {out} ({exc.strerror or exc}): the scores are printed, the "
            f"files are not kept; pass out= a writable folder to keep them",
            stacklevel=2,
        )
        return {}


def model_image(run: LoadedRun, image: str | Path | Tensor) -> Tensor:
    """A picture as the run's model reads it: ``uint8`` ``(C, H, W)`` of its size
    (another size is resized, with a warning)."""
    config = run.config.model
    if isinstance(image, torch.Tensor):
        picture, name = image, "the image"
    else:
        picture, name = read_image(image, channels=config.channels), str(image)
    return fit_image(picture, (config.image_height, config.image_width), name=name)


def tokenizer_summary(tokenizer: Tokenizer) -> dict[str, Any]:
    """A tokenizer in :func:`attnkit.api.run_info`: its kind and vocabulary size."""
    return {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size}
