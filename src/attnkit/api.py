"""High-level facade over runs, used by the command line and by users: :func:`train`,
:func:`load_run`, :func:`generate`, :func:`translate`, :func:`classify`, :func:`caption`,
:func:`evaluate`, :func:`fill_mask`, :func:`embed`, :func:`average_checkpoints`,
:func:`run_info`, :func:`plot_run_attention`, :func:`plot_image_attention`,
:func:`write_vision_samples`.

What a run can do depends on its model family: each function asks the run's family
(:mod:`attnkit.families`) to do it, and a run of a family that does not fit is an error
naming the functions that do. Errors name this module's parameters (``beam=``), never
command-line flags: the CLI words them as its options.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.config import RunConfig, run_config_to_dict
from attnkit.data.images import write_png
from attnkit.decoding.logits import check_sampling_args
from attnkit.families import family_for, family_of
from attnkit.families.base import (
    Captions,
    Classifies,
    DrawsImageAttention,
    DrawsTextAttention,
    Embeds,
    Evaluates,
    FilledMask,
    FillsMasks,
    Generates,
    HoldsOutImages,
    Translates,
)
from attnkit.training.checkpoint import checkpoint_steps, load_checkpoint, save_checkpoint
from attnkit.training.image_tasks import CLASSES_FILE
from attnkit.training.rundir import LoadedRun, RunDir, load_run
from attnkit.training.trainer import Callback, Trainer, TrainState
from attnkit.viz.curves import plot_loss_curve

__all__ = [
    "average_checkpoints",
    "caption",
    "classify",
    "embed",
    "evaluate",
    "fill_mask",
    "generate",
    "load_run",
    "plot_image_attention",
    "plot_run_attention",
    "run_info",
    "train",
    "translate",
    "write_vision_samples",
]

HELD_OUT_SPLITS = ("valid", "test")
BEAM = 4
"""The beam size of every function that decodes (translate, caption, evaluate): one
default, so a translation and its evaluation agree; ``beam=1`` is greedy decoding."""


# --------------------------------------------------------------------------- runs


def train(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    allow_data_change: bool = False,
    callbacks: Sequence[Callback] = (),
) -> TrainState:
    """Train ``config`` into the run directory ``out`` (or continue it with ``resume``;
    ``allow_data_change`` lets it go on although its data files changed), then draw the
    loss curve (``out/loss.png``). One training writes into ``out`` at a time."""
    state = Trainer(
        config, out, resume=resume, allow_data_change=allow_data_change, callbacks=callbacks
    ).fit()
    paths = RunDir(Path(out))
    if int(os.environ.get("RANK", "0")) == 0 and paths.metrics.is_file():
        plot_loss_curve(paths.metrics, paths.loss_curve, title=f"{paths.root.name}")
    return state


def _check_split(split: str) -> None:
    if split not in HELD_OUT_SPLITS:
        raise ValueError(f"split={split!r} is not a held-out split: pass split='valid' or 'test'")


def _check_count(name: str, value: Any, *, least: int = 1) -> None:
    """A count the caller asked for (``last=``, ``count=``): a whole number >= ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name}={value!r} means nothing here: pass a whole number >= {least}")


def _check_decoding(beam: Any, length_penalty: Any) -> None:
    """The decoding settings every decoder takes (the vocabulary bounds the beam later)."""
    _check_count("beam", beam)
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, int | float)
        or not math.isfinite(length_penalty)
        or length_penalty < 0
    ):
        raise ValueError(
            f"length_penalty={length_penalty!r}: pass a number >= 0 (0 = none; larger values "
            f"favour longer outputs)"
        )


def _engine(engine: Any, allowed: tuple[str, ...]) -> str:
    """The ``engine=`` this function can run on (:mod:`attnkit.interop.engines`)."""
    if engine not in allowed:
        raise ValueError(f"engine={engine!r}: this function runs on {' or '.join(allowed)}")
    return engine


def generate(
    run: LoadedRun,
    prompt: str,
    *,
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    sliding_window: bool = True,
    engine: str = "pytorch",
    quantization: str | None = None,
) -> Iterator[str]:
    """Continue ``prompt`` with a trained language model: an iterator of text pieces,
    as they come.

    Uses the key/value cache: each new token costs one step over the cached context. A
    model with learned positions cannot look past ``max_len`` tokens: with
    ``sliding_window`` (the default) generation goes on in chunks, each starting afresh
    from the last ``max_len // 2`` tokens; without it, asking for more is an error.

    Everything — the run's family, the settings, the prompt's characters, the memory
    the cache will take — is checked when ``generate`` is called, before any text.

    ``engine="ctranslate2"`` generates with CTranslate2 instead of PyTorch (the run
    converted on first use; ``quantization="int8"`` runs it in int8; see
    :mod:`attnkit.interop.engines`).
    """
    check_sampling_args(temperature, top_k, top_p)
    language_model = family_for(run, Generates, needs="a language model")
    if _engine(engine, ("pytorch", "ctranslate2")) == "ctranslate2":
        from attnkit.families.base import encode_text
        from attnkit.interop.engines import ct2_generate

        _check_count("max_new_tokens", max_new_tokens, least=0)
        return ct2_generate(
            run,
            encode_text(run, prompt, parameter="prompt"),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            sliding_window=sliding_window,
            quantization=quantization,
        )
    return language_model.generate(
        run,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        sliding_window=sliding_window,
    )


def evaluate(
    run_dir: str | Path,
    *,
    data: str | Path | None = None,
    split: str = "valid",
    beam: int = BEAM,
    length_penalty: float = 0.6,
    int8: bool = False,
    checkpoint: int | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "pytorch",
) -> dict[str, Any]:
    """Evaluate a run's best model, or its ``checkpoint`` of that step (``int8``: with its
    linear layers quantized to int8, on the CPU — to measure what that costs in accuracy).

    Language models: loss, perplexity and bits per character on the validation text
    (every block once), on the recipe's test text (``data.test``; a run without one
    refuses ``split="test"``) or on the text file ``data``.

    Translators: BLEU and chrF (sacreBLEU) of the ``split`` (``valid`` or ``test``) or
    of the TSV file ``data`` (lines that are not a pair are dropped, counted and
    reported), decoded greedily or with a ``beam``; runs with a character tokenizer get
    character-level BLEU (``bleu_tokenize``). The sources, hypotheses and references are
    written to the folder ``out`` (default ``RUN_DIR/eval/``).

    Image classifiers: accuracy, per-class accuracy and a confusion-matrix PNG on the
    ``split`` or on a ``data`` folder (one sub-folder per class). Captioners: per-word
    and whole-caption accuracy and BLEU on the ``split``'s mosaics (unseen images).

    Masked-language models: top-1 / top-5 accuracy and perplexity at the hidden tokens
    of the ``split`` (``test`` for ``bible-en`` or a recipe with ``data.test``) or of
    the text file ``data``, hidden with a fixed seed, beside the most-frequent-token and
    unigram baselines at the same positions.

    A folder ``out`` that cannot be written (a read-only run) costs a warning: the
    scores are returned all the same. ``progress`` is told ``(done, total)`` as the
    evaluation goes (sentences, images or batches of text).

    ``engine="ctranslate2"`` decodes a translator with CTranslate2 (``int8``: in the
    engine's int8), ``engine="onnx"`` runs an image classifier with ONNX Runtime
    (:mod:`attnkit.interop.engines`).
    """
    _check_split(split)
    _check_decoding(beam, length_penalty)
    if _engine(engine, ("pytorch", "ctranslate2", "onnx")) != "pytorch":
        from attnkit.interop.engines import engine_evaluate

        run = load_run(run_dir, checkpoint=checkpoint)
        scores = engine_evaluate(
            run,
            engine,
            data=data,
            split=split,
            beam=beam,
            length_penalty=length_penalty,
            quantization="int8" if int8 else None,
            out=Path(out) if out is not None else run.run_dir.root / "eval",
            progress=progress,
        )
        return {
            "run": str(run.run_dir.root),
            "step": run.checkpoint.step,
            "engine": engine,
            **({"int8": True} if int8 else {}),
            **scores,
        }
    run = load_run(run_dir, int8=int8, checkpoint=checkpoint)
    family = family_for(run, Evaluates, needs="a model evaluate() can score")
    scores = family.evaluate(
        run,
        data=data,
        split=split,
        beam=beam,
        length_penalty=length_penalty,
        int8=int8,
        out=Path(out) if out is not None else run.run_dir.root / "eval",
        progress=progress,
    )
    return {
        "run": str(run.run_dir.root),
        "step": run.checkpoint.step,
        **({"int8": True} if int8 else {}),
        **scores,
    }


def translate(
    run: LoadedRun,
    sentences: Sequence[str],
    *,
    beam: int = BEAM,
    length_penalty: float = 0.6,
    n_best: int = 1,
    max_new_tokens: int | None = None,
    max_len: int | None = None,
    engine: str = "pytorch",
    quantization: str | None = None,
) -> list[list[str]]:
    """Translate sentences with a trained translator: the ``n_best`` best of each.

    Each translation ends at EOS or after ``max_new_tokens`` tokens (default: 1.5 × the
    source's length + 10; ``max_len`` is its old name). A sentence the run's vocabulary
    cannot read translates to ``""`` with a warning naming its line (from 1); when none
    can be read, that is an error. ``beam`` is at most the vocabulary size, and a beam
    whose state would not fit in memory is refused before decoding starts.

    ``engine="ctranslate2"`` decodes with CTranslate2 (``quantization="int8"``: in
    int8); its length penalty divides by ``length ** length_penalty`` instead of GNMT's
    (:mod:`attnkit.interop.engines`).
    """
    translator = family_for(run, Translates, needs="a translator")
    _check_decoding(beam, length_penalty)
    _check_count("n_best", n_best)
    if max_new_tokens is None:
        max_new_tokens = max_len
    if max_new_tokens is not None:
        _check_count("max_new_tokens", max_new_tokens)
    if _engine(engine, ("pytorch", "ctranslate2")) == "ctranslate2":
        from attnkit.interop.engines import ct2_translate

        return ct2_translate(
            run,
            sentences,
            beam=beam,
            length_penalty=length_penalty,
            n_best=n_best,
            max_new_tokens=max_new_tokens,
            quantization=quantization,
        )
    return translator.translate(
        run,
        sentences,
        beam=beam,
        length_penalty=length_penalty,
        n_best=n_best,
        max_new_tokens=max_new_tokens,
    )


def fill_mask(run: LoadedRun | str | Path, text: str, *, top_k: int = 5) -> list[FilledMask]:
    """The ``top_k`` likeliest tokens, with their probabilities, for each ``[MASK]`` of
    ``text``, by a trained masked-language model (a loaded run or its directory).

    Returns one :class:`~attnkit.families.base.FilledMask` per ``[MASK]``, in the order
    of the text: its ``position`` among the text's tokens and its ``candidates``,
    ``(token, probability)`` pairs, the likeliest first. A text without ``[MASK]``, or
    longer than the model's learned positions, is an error.

    Example:
        ``fill_mask(run, "the [MASK] of the Lord")[0].candidates[0]`` → ``("word", 0.41)``
    """
    _check_count("top_k", top_k)
    if not isinstance(run, LoadedRun):
        run = load_run(run)
    masked_model = family_for(run, FillsMasks, needs="a masked-language model", parameter="text")
    return masked_model.fill_mask(run, text, top_k=top_k)


def embed(
    run: LoadedRun | str | Path,
    texts: Sequence[str],
    *,
    normalize: bool = True,
    batch_size: int = 32,
) -> torch.Tensor:
    """Sentence embeddings: one vector per text from an encoder (a loaded run or its
    directory) — its final states pooled as the run's ``model.pooling`` says (``mean``
    over the real tokens, as sentence-transformers does, or the first token), scaled to
    unit length unless ``normalize=False``, so that ``a @ b`` is the cosine similarity.

    Shape:
        ``N`` texts → ``(N, D)`` float32.

    Example:
        ``embed(run, ["a cat", "a dog"])`` → a ``(2, 384)`` tensor for MiniLM.
    """
    if isinstance(texts, str):
        raise ValueError("texts= is one string: pass a list of texts, e.g. texts=[text]")
    if not texts:
        raise ValueError("texts= is empty: pass at least one text")
    _check_count("batch_size", batch_size)
    if not isinstance(run, LoadedRun):
        run = load_run(run)
    encoder = family_for(run, Embeds, needs="an encoder")
    return encoder.embed(run, list(texts), normalize=normalize, batch_size=batch_size)


def average_checkpoints(run_dir: str | Path, out: str | Path, *, last: int = 5) -> Path:
    """Average the weights of a run's last ``last`` checkpoints into a new run directory
    (config and tokenizers copied), which translates and evaluates like any run."""
    _check_count("last", last)
    source = RunDir(Path(run_dir))
    target = RunDir(Path(out))
    if target.has_checkpoint():
        raise ValueError(f"{target.root} already holds a run: pass a new directory as out=")
    steps = sorted(source.checkpoints.glob("step-*"))
    if len(steps) < last:
        raise ValueError(
            f"{source.root} keeps {len(steps)} checkpoint(s), fewer than last={last}; "
            f"train with train.keep_last >= {last}"
        )
    checkpoints = [load_checkpoint(path, weights_only=True) for path in steps[-last:]]
    run = load_run(run_dir, which="latest")
    averaged = {
        name: torch.stack([c.model_state[name].float() for c in checkpoints]).mean(0)
        for name in checkpoints[0].model_state
    }
    run.model.load_state_dict(averaged)
    target.root.mkdir(parents=True, exist_ok=True)
    # The files that rebuild the model and read its inputs (a classifier has class names).
    for name in ("config.json", "tokenizer.json", "source_tokenizer.json", CLASSES_FILE):
        if (source.root / name).is_file():
            shutil.copyfile(source.root / name, target.root / name)
    return save_checkpoint(
        target.root,
        step=checkpoints[-1].step,
        model=run.model,
        optimizer=None,
        trainer_state={
            **checkpoints[-1].trainer_state,
            "averaged_steps": [c.step for c in checkpoints],
        },
    )


def run_info(run_dir: str | Path, *, checkpoint: int | None = None) -> dict[str, Any]:
    """What a run is: its family, config, parameter count, vocabulary and training state
    (at its latest checkpoint, or at its ``checkpoint`` of that step)."""
    run = load_run(run_dir, which="latest", checkpoint=checkpoint)
    family = family_of(run)
    params = sum(p.numel() for p in run.model.parameters())
    state = run.checkpoint.trainer_state
    return {
        "run": str(run_dir),
        "kind": run.config.model.kind,
        "family": family.noun,
        "parameters": params,
        **family.describe(run),
        "step": state.get("step"),
        # an imported model was trained elsewhere: its config's train section is a default
        "steps_planned": None if "imported_from" in state else run.config.train.steps,
        "imported_from": state.get("imported_from"),
        "best_val_loss": state.get("best_loss"),
        "best_step": state.get("best_step"),
        "tokens_seen": state.get("tokens_seen"),
        "seconds": state.get("seconds"),
        "stop_reason": state.get("stop_reason"),
        "checkpoints_kept": sorted(checkpoint_steps(run_dir)),
        "config": run_config_to_dict(run.config),
    }


def plot_run_attention(
    run_dir: str | Path,
    text: str,
    out: str | Path,
    *,
    layer: int | None = None,
    head: int | None = None,
    checkpoint: int | None = None,
) -> Path:
    """Attention of a trained text model over ``text``, tokens on the axes (the run's
    best model, or its ``checkpoint`` of that step).

    Language models: self-attention. Without ``layer``/``head``: a grid with every
    layer and head; with both: one map; with only ``layer``: that layer's heads; with
    only ``head``: that head in every layer.

    Translators: ``text`` is translated (greedy) and ``out`` shows where each output
    word looked — the cross-attention of the last layer (or ``layer``), averaged over
    heads (or ``head``). Beside it: ``*-cross.png`` (every layer and head),
    ``*-encoder.png`` and ``*-decoder.png`` (self-attention grids; Transformers only).
    """
    run = load_run(run_dir, checkpoint=checkpoint)
    text_model = family_for(run, DrawsTextAttention, needs="a text model", parameter="text")
    return text_model.plot_text_attention(run, text, Path(out), layer=layer, head=head)


# --------------------------------------------------------------------------- images


def classify(
    run: LoadedRun,
    image: str | Path | torch.Tensor,
    *,
    top_k: int = 3,
    engine: str = "pytorch",
) -> list[tuple[str, float]]:
    """The ``top_k`` most likely classes of an image (a PNG/JPEG path or a ``uint8``
    ``(C, H, W)`` tensor) with their probabilities, best first (``engine="onnx"``: the
    classifier exported to ONNX and run by ONNX Runtime)."""
    classifier = family_for(run, Classifies, needs="an image classifier")
    if _engine(engine, ("pytorch", "onnx")) == "onnx":
        from attnkit.families.base import model_image
        from attnkit.interop.engines import onnx_classify

        _check_count("top_k", top_k)
        probs = onnx_classify(run, model_image(run, image)[None])[0]
        values, ids = probs.topk(min(top_k, len(probs)))
        return [(run.classes[i], float(v)) for v, i in zip(values, ids.tolist(), strict=True)]
    return classifier.classify(run, image, top_k=top_k)


def caption(
    run: LoadedRun,
    image: str | Path | torch.Tensor,
    *,
    beam: int = BEAM,
    length_penalty: float = 0.6,
) -> str:
    """Caption an image (a PNG/JPEG path or a ``uint8`` ``(C, H, W)`` tensor), greedy
    or with beam search."""
    captioner = family_for(run, Captions, needs="a captioner")
    _check_decoding(beam, length_penalty)
    return captioner.caption(run, image, beam=beam, length_penalty=length_penalty)


def write_vision_samples(
    run_dir: str | Path,
    out: str | Path,
    *,
    count: int = 8,
    split: str = "test",
    checkpoint: int | None = None,
) -> list[Path]:
    """Write ``count`` held-out images of a run's data as PNG files (named after their
    class or caption), to try :func:`classify` / :func:`caption` /
    :func:`plot_image_attention` on."""
    _check_split(split)
    _check_count("count", count)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a folder")
    run = load_run(run_dir, checkpoint=checkpoint)
    image_model = family_for(run, HoldsOutImages, needs="an image model")
    images, names = image_model.held_out_images(run, split)
    paths = []
    for index in range(min(count, len(names))):
        slug = "".join(c if c.isalnum() else "-" for c in names[index].lower()).strip("-")
        paths.append(write_png(out / f"{index:02d}-{slug}.png", images[index]))
    return paths


def plot_image_attention(
    run_dir: str | Path,
    image: str | Path,
    out: str | Path,
    *,
    layer: int | None = None,
    head: int | None = None,
    checkpoint: int | None = None,
) -> Path:
    """Attention of an image model drawn over the picture (the run's best model, or its
    ``checkpoint`` of that step).

    Captioners: the image is captioned (greedy), then one panel per word shows that
    word's cross-attention over the image regions (last layer, or ``layer``; mean of
    heads, or ``head``). Classifiers: the class token's attention over the patches in
    every layer (mean of heads, or ``head``), then the attention rollout.
    """
    run = load_run(run_dir, checkpoint=checkpoint)
    image_model = family_for(run, DrawsImageAttention, needs="an image model", parameter="image")
    return image_model.plot_image_attention(run, image, Path(out), layer=layer, head=head)
