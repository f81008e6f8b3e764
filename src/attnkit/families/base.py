"""The protocols a run's family answers to, and what several families share.

:class:`Family` is what every family has: a name and a description. Each operation the
API offers on a loaded run is a protocol of its own (:class:`Evaluates`,
:class:`Generates`, :class:`Translates`, ...): a family implements the ones that make
sense for it and nothing else, so ``isinstance(family, Translates)`` answers "can this
run translate?" without looking at a model kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from attnkit.data.images import fit_image, read_image
from attnkit.protocols import Tokenizer
from attnkit.training.rundir import LoadedRun

__all__ = [
    "Captions",
    "Classifies",
    "DrawsImageAttention",
    "DrawsTextAttention",
    "Evaluates",
    "Family",
    "Generates",
    "HoldsOutImages",
    "Translates",
    "check_layer_head",
    "encode_text",
    "model_image",
    "token_label",
    "tokenizer_summary",
]


@runtime_checkable
class Family(Protocol):
    """What every family has: ``noun`` names its runs in messages ("language model")."""

    noun: str

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        """What :func:`attnkit.api.run_info` adds for this family (its vocabulary)."""
        ...


@runtime_checkable
class Evaluates(Protocol):
    """Scores a run on held-out data (:func:`attnkit.api.evaluate`)."""

    def evaluate(
        self,
        run: LoadedRun,
        *,
        data: str | Path | None,
        split: str,
        beam: int,
        length_penalty: float,
        int8: bool,
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
        max_len: int | None,
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


def encode_text(run: LoadedRun, text: str, *, parameter: str) -> list[int]:
    """``text`` as the run's token ids; ``parameter`` names it if it is empty."""
    if not text:
        raise ValueError(
            f"{parameter}='' is empty: give at least one character, e.g. {parameter}='\\n'"
        )
    return run.tokenizer.encode(text)


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
