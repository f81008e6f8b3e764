"""High-level facade over runs, used by the command line and by users: :func:`train`,
:func:`load_run`, :func:`generate`, :func:`translate`, :func:`evaluate`,
:func:`average_checkpoints`, :func:`run_info`, :func:`plot_run_attention`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.config import RunConfig, run_config_to_dict
from attnkit.data.batching import LMBatches
from attnkit.data.images import (
    caption_to_ids,
    fit_image,
    normalize_images,
    read_image,
    read_image_folder,
    write_png,
)
from attnkit.data.parallel import read_parallel_file
from attnkit.data.text import read_text_file
from attnkit.decoding.logits import check_sampling_args
from attnkit.decoding.sampling import stream
from attnkit.evaluation.images import (
    caption_images,
    caption_scores,
    classification_scores,
    classify_images,
)
from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.evaluation.translation import corpus_scores, translate_sentences
from attnkit.training.checkpoint import load_checkpoint, save_checkpoint
from attnkit.training.image_tasks import (
    load_caption_splits,
    load_classification_splits,
    read_classes,
)
from attnkit.training.rundir import LoadedRun, RunDir, load_run
from attnkit.training.tasks import load_pairs, load_texts
from attnkit.training.trainer import Callback, Trainer, TrainState
from attnkit.viz.curves import plot_loss_curve
from attnkit.viz.image_attention import (
    attention_rollout,
    plot_caption_attention,
    plot_class_attention,
    plot_confusion_matrix,
)
from attnkit.viz.plots import plot_attention, plot_attention_heads

__all__ = [
    "average_checkpoints",
    "caption",
    "classify",
    "evaluate",
    "generate",
    "load_run",
    "plot_image_attention",
    "plot_run_attention",
    "run_info",
    "train",
    "translate",
    "write_vision_samples",
]


# --------------------------------------------------------------------------- runs


def train(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> TrainState:
    """Train ``config`` into the run directory ``out`` (or continue it with ``resume``),
    then draw the loss curve (``out/loss.png``)."""
    state = Trainer(config, out, resume=resume, callbacks=callbacks).fit()
    paths = RunDir(Path(out))
    if int(os.environ.get("RANK", "0")) == 0 and paths.metrics.is_file():
        plot_loss_curve(paths.metrics, paths.loss_curve, title=f"{paths.root.name}")
    return state


def _prompt_ids(run: LoadedRun, prompt: str) -> list[int]:
    if not prompt:
        raise ValueError("the prompt is empty; give at least one character, e.g. --prompt '\\n'")
    return run.tokenizer.encode(prompt)


def generate(
    run: LoadedRun,
    prompt: str,
    *,
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    sliding_window: bool = False,
) -> Iterator[str]:
    """Continue ``prompt`` with a trained language model, yielding text as it comes.

    Uses the key/value cache: each new token costs one step over the cached context. A
    model with learned positions cannot look past ``max_len`` tokens: asking for more is
    an error, unless ``sliding_window`` is set — then generation goes on in chunks, each
    starting afresh from the last ``max_len // 2`` tokens.
    """
    check_sampling_args(temperature, top_k, top_p)
    ids = _prompt_ids(run, prompt)
    model_config = run.config.model
    device = next(run.model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    max_len = model_config.max_len if model_config.positional == "learned" else None
    if max_len is not None and not sliding_window and len(ids) + max_new_tokens > max_len:
        raise ValueError(
            f"prompt ({len(ids)} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
            f"model's max_len={max_len} (learned positions); ask for fewer tokens, or pass "
            f"--sliding-window to continue from the last {max_len // 2} tokens"
        )
    context, produced, text = list(ids), [], ""
    remaining = max_new_tokens
    while remaining > 0:
        chunk = remaining
        if max_len is not None:
            if len(context) >= max_len:
                context = context[-(max_len // 2) :]
            chunk = min(remaining, max_len - len(context))
        for token in stream(
            run.model,
            torch.tensor([context], device=device),
            max_new_tokens=chunk,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
            max_len=max_len,
        ):
            produced.append(int(token[0]))
            context.append(int(token[0]))
            # Decode everything so far: a subword may complete a character only later.
            new_text = run.tokenizer.decode(produced)
            yield new_text[len(text) :]
            text = new_text
        remaining -= chunk


def evaluate(
    run_dir: str | Path,
    *,
    data: str | Path | None = None,
    split: str = "valid",
    beam: int = 1,
    length_penalty: float = 0.6,
    int8: bool = False,
) -> dict[str, Any]:
    """Evaluate a run's best model (``int8``: with its linear layers quantized to int8,
    on the CPU — to measure what that costs in accuracy).

    Language models: loss, perplexity and bits per character on the validation text
    (every block once) or on the text file ``data``.

    Translators: BLEU and chrF (sacreBLEU) of the ``split`` (``valid`` or ``test``) or
    of the TSV file ``data``, decoded greedily or with a ``beam``; the sources,
    hypotheses and references are written to ``RUN_DIR/eval/``.

    Image classifiers: accuracy, per-class accuracy and a confusion-matrix PNG on the
    ``split`` or on a ``data`` folder (one sub-folder per class). Captioners: per-word
    and whole-caption accuracy and BLEU on the ``split``'s mosaics (unseen images).
    """
    run = load_run(run_dir, int8=int8)
    if run.config.model.kind in ("vit", "captioner"):
        return _evaluate_image_model(
            run, data=data, split=split, beam=beam, length_penalty=length_penalty
        )
    if run.is_translator:
        return _evaluate_translator(
            run, data=data, split=split, beam=beam, length_penalty=length_penalty, int8=int8
        )
    if data is None:
        _, text = load_texts(run.config.data)
        source = "validation split"
    else:
        text = read_text_file(data)
        source = str(data)
    tokens = torch.tensor(run.tokenizer.encode(text), dtype=torch.long)
    batches = LMBatches(tokens, run.config.data.block_size)
    metrics = evaluate_language_model(run.model, batches, num_chars=len(text))
    return {
        "run": str(run_dir),
        "data": source,
        "step": run.checkpoint.step,
        **({"int8": True} if int8 else {}),
        **metrics,
        "chars": len(text),
    }


def _evaluate_translator(
    run: LoadedRun,
    *,
    data: str | Path | None,
    split: str,
    beam: int,
    length_penalty: float,
    int8: bool = False,
) -> dict[str, Any]:
    if data is not None:
        pairs, _ = read_parallel_file(data, max_chars=run.config.data.max_chars)
        name = Path(data).stem
    else:
        if split not in ("valid", "test"):
            raise ValueError(f"--split must be 'valid' or 'test', got {split!r}")
        _, valid, test, _ = load_pairs(run.config.data)
        pairs, name = (valid if split == "valid" else test), split
        if not pairs:
            raise ValueError(
                f"this run has no {split} data; set data.{split} in its recipe or pass --data"
            )
    start = time.perf_counter()
    hypotheses = [
        h[0]
        for h in translate(run, [s for s, _ in pairs], beam=beam, length_penalty=length_penalty)
    ]
    seconds = time.perf_counter() - start
    references = [t for _, t in pairs]
    out_dir = run.run_dir.root / "eval"
    out_dir.mkdir(exist_ok=True)
    stem = f"{name}.beam{beam}" + (".int8" if int8 else "")
    for suffix, lines in (("src", [s for s, _ in pairs]), ("ref", references), ("hyp", hypotheses)):
        (out_dir / f"{stem}.{suffix}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "run": str(run.run_dir.root),
        "data": str(data) if data is not None else f"{split} split",
        "step": run.checkpoint.step,
        **({"int8": True} if int8 else {}),
        "beam": beam,
        **corpus_scores(hypotheses, references),
        "seconds": round(seconds, 1),
        "hypotheses": str(out_dir / f"{stem}.hyp"),
    }


def translate(
    run: LoadedRun,
    sentences: Sequence[str],
    *,
    beam: int = 1,
    length_penalty: float = 0.6,
    n_best: int = 1,
    max_len: int | None = None,
) -> list[list[str]]:
    """Translate sentences with a trained translator: the ``n_best`` best of each."""
    if not run.is_translator:
        raise ValueError(
            f"{run.run_dir.root} holds a {run.config.model.kind} model, not a translator; "
            f"use `attnkit generate` for language models"
        )
    model_config = run.config.model
    learned = model_config.positional == "learned"
    return translate_sentences(
        run.model,
        sentences,
        source_tokenizer=run.source_tokenizer,
        target_tokenizer=run.tokenizer,
        beam=beam,
        length_penalty=length_penalty,
        n_best=n_best,
        max_len=min(max_len or model_config.max_len, model_config.max_len) if learned else max_len,
        source_limit=model_config.max_len if learned else None,
    )


def average_checkpoints(run_dir: str | Path, out: str | Path, *, last: int = 5) -> Path:
    """Average the weights of a run's last ``last`` checkpoints into a new run directory
    (config and tokenizers copied), which translates and evaluates like any run."""
    source = RunDir(Path(run_dir))
    target = RunDir(Path(out))
    if target.has_checkpoint():
        raise ValueError(f"{target.root} already holds a run; choose another --out")
    steps = sorted(source.checkpoints.glob("step-*"))
    if len(steps) < last:
        raise ValueError(
            f"{source.root} keeps {len(steps)} checkpoint(s), fewer than --last {last}; "
            f"train with train.keep_last >= {last}"
        )
    checkpoints = [load_checkpoint(path) for path in steps[-last:]]
    run = load_run(run_dir, which="latest")
    averaged = {
        name: torch.stack([c.model_state[name].float() for c in checkpoints]).mean(0)
        for name in checkpoints[0].model_state
    }
    run.model.load_state_dict(averaged)
    target.root.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "source_tokenizer.json"):
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


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """What a run is: its config, parameter count and training state."""
    run = load_run(run_dir, which="latest")
    params = sum(p.numel() for p in run.model.parameters())
    state = run.checkpoint.trainer_state
    return {
        "run": str(run_dir),
        "kind": run.config.model.kind,
        "parameters": params,
        "tokenizer": {"kind": run.tokenizer.kind, "vocab_size": run.tokenizer.vocab_size}
        if run.tokenizer is not None
        else {"classes": run.classes},
        "step": state.get("step"),
        "steps_planned": run.config.train.steps,
        "best_val_loss": state.get("best_loss"),
        "best_step": state.get("best_step"),
        "tokens_seen": state.get("tokens_seen"),
        "seconds": state.get("seconds"),
        "stop_reason": state.get("stop_reason"),
        "config": run_config_to_dict(run.config),
    }


def _check_layer_head(layer: int | None, head: int | None, num_layers: int, num_heads: int):
    for name, value, limit in (("layer", layer, num_layers), ("head", head, num_heads)):
        if value is not None and not 0 <= value < limit:
            raise ValueError(
                f"--{name} {value} does not exist: the model has {limit} ({name}s 0–{limit - 1})"
            )


def _token_label(text: str) -> str:
    return text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


def plot_run_attention(
    run_dir: str | Path,
    text: str,
    out: str | Path,
    *,
    layer: int | None = None,
    head: int | None = None,
) -> Path:
    """Attention of a trained model over ``text``, tokens on the axes.

    Language models: self-attention. Without ``layer``/``head``: a grid with every
    layer and head; with both: one map; with only ``layer``: that layer's heads; with
    only ``head``: that head in every layer.

    Translators: ``text`` is translated (greedy) and ``out`` shows where each output
    word looked — the cross-attention of the last layer (or ``layer``), averaged over
    heads (or ``head``). Beside it: ``*-cross.png`` (every layer and head),
    ``*-encoder.png`` and ``*-decoder.png`` (self-attention grids; Transformers only).
    """
    run = load_run(run_dir)
    if run.is_translator:
        return _plot_translation_attention(run, text, Path(out), layer=layer, head=head)
    ids = _prompt_ids(run, text)
    model_config = run.config.model
    if model_config.positional == "learned" and len(ids) > model_config.max_len:
        raise ValueError(
            f"the text is {len(ids)} tokens but the model's max_len={model_config.max_len}; "
            f"use a shorter text"
        )
    with torch.no_grad():
        out_maps = run.model(torch.tensor([ids]), need_weights=True).attentions
    maps = out_maps.stacked("decoder")[:, 0]  # (L, H, T, T)
    num_layers, num_heads = maps.shape[:2]
    _check_layer_head(layer, head, num_layers, num_heads)
    labels = [_token_label(run.tokenizer.decode([i])) for i in ids]
    title = f"self-attention of {Path(run_dir).name}"
    if layer is not None and head is not None:
        return plot_attention(
            maps[layer, head],
            x_labels=labels,
            y_labels=labels,
            path=out,
            title=f"{title}: layer {layer} · head {head}",
        )
    layer_ids = list(range(num_layers)) if layer is None else [layer]
    head_ids = list(range(num_heads)) if head is None else [head]
    maps = maps[layer_ids][:, head_ids]  # (L', H', T, T)
    return plot_attention_heads(
        maps,
        x_labels=labels,
        y_labels=labels,
        path=out,
        title=title,
        layer_ids=layer_ids,
        head_ids=head_ids,
    )


def _plot_translation_attention(
    run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
) -> Path:
    if not text.strip():
        raise ValueError("the text is empty; give a sentence to translate")
    translation = translate(run, [text])[0][0]
    src_ids = [*run.source_tokenizer.encode(text), 2]
    tgt_ids = [1, *run.tokenizer.encode(translation)]
    with torch.no_grad():
        maps = run.model(
            torch.tensor([src_ids]), torch.tensor([tgt_ids]), need_weights=True
        ).attentions
    if not maps.cross:
        raise ValueError(
            f"{run.run_dir.root} has no encoder–decoder attention to draw: its decoder reads "
            f"only the encoder's final state (model.attention='none')"
        )
    cross = maps.stacked("cross")[:, 0]  # (L, H, T, S)
    num_layers, num_heads = cross.shape[:2]
    _check_layer_head(layer, head, num_layers, num_heads)
    source = [_token_label(run.source_tokenizer.decode([i])) for i in src_ids[:-1]] + ["<eos>"]
    produced = [_token_label(run.tokenizer.decode([i])) for i in tgt_ids[1:]] + ["<eos>"]
    inputs = ["<bos>", *produced[:-1]]
    chosen = num_layers - 1 if layer is None else layer
    picture = cross[chosen].mean(0) if head is None else cross[chosen, head]
    which = "mean of heads" if head is None else f"head {head}"
    path = plot_attention(
        picture,
        x_labels=source,
        y_labels=produced,
        path=out,
        title=f"{text} → {translation}  (layer {chosen}, {which})",
        x_title="source token (key)",
        y_title="output token being produced (query)",
    )
    stem = out.with_suffix("")
    grids = [("cross", cross, source, produced, "cross-attention")]
    # Recurrent encoder–decoders have no self-attention: draw the maps the model returned.
    if maps.encoder:
        grids.append(
            ("encoder", maps.stacked("encoder")[:, 0], source, source, "encoder self-attention")
        )
    if maps.decoder:
        grids.append(
            ("decoder", maps.stacked("decoder")[:, 0], inputs, inputs, "decoder self-attention")
        )
    for name, weights, keys, queries, title in grids:
        plot_attention_heads(
            weights,
            x_labels=keys,
            y_labels=queries,
            path=f"{stem}-{name}{out.suffix}",
            title=title,
        )
    return path


# --------------------------------------------------------------------------- images


def _require_kind(run: LoadedRun, kind: str, command: str) -> None:
    if run.config.model.kind != kind:
        other = {"vit": "classify", "captioner": "caption"}.get(run.config.model.kind)
        hint = f"; use `attnkit {other}`" if other else ""
        raise ValueError(
            f"{run.run_dir.root} holds a {run.config.model.kind} model, not a"
            f" {'classifier' if kind == 'vit' else 'captioner'}{hint}"
        )


def _model_image(run: LoadedRun, image: str | Path | torch.Tensor) -> torch.Tensor:
    """A picture as the run's model reads it: ``uint8`` ``(C, H, W)`` of its size
    (another size is resized, with a warning)."""
    config = run.config.model
    if isinstance(image, torch.Tensor):
        picture, name = image, "the image"
    else:
        picture, name = read_image(image, channels=config.channels), str(image)
    return fit_image(picture, (config.image_height, config.image_width), name=name)


def classify(
    run: LoadedRun, image: str | Path | torch.Tensor, *, top_k: int = 3
) -> list[tuple[str, float]]:
    """The ``top_k`` most likely classes of an image (a PNG/JPEG path or a ``uint8``
    ``(C, H, W)`` tensor) with their probabilities, best first."""
    _require_kind(run, "vit", "classify")
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    probs = classify_images(run.model, _model_image(run, image)[None])[0]
    values, ids = probs.topk(min(top_k, len(probs)))
    return [(run.classes[i], float(v)) for v, i in zip(values, ids.tolist(), strict=True)]


def caption(
    run: LoadedRun, image: str | Path | torch.Tensor, *, beam: int = 1, length_penalty: float = 0.6
) -> str:
    """Caption an image (a PNG/JPEG path or a ``uint8`` ``(C, H, W)`` tensor), greedy
    or with beam search."""
    _require_kind(run, "captioner", "caption")
    return caption_images(
        run.model,
        _model_image(run, image)[None],
        run.tokenizer,
        beam=beam,
        length_penalty=length_penalty,
        max_len=run.config.model.max_len - 1,
    )[0]


def _evaluate_image_model(
    run: LoadedRun, *, data: str | Path | None, split: str, beam: int, length_penalty: float
) -> dict[str, Any]:
    if split not in ("valid", "test"):
        raise ValueError(f"--split must be 'valid' or 'test', got {split!r}")
    out_dir = run.run_dir.root / "eval"
    out_dir.mkdir(exist_ok=True)
    config, start = run.config, time.perf_counter()
    head = {"run": str(run.run_dir.root), "step": run.checkpoint.step}
    if config.model.kind == "vit":
        if data is not None:
            size = (config.model.image_height, config.model.image_width)
            images = read_image_folder(
                data, size=size, channels=config.model.channels, classes=tuple(run.classes)
            )
            name = Path(data).name
        else:
            dataset = read_classes(run.run_dir.root).get("dataset")
            splits = load_classification_splits(config.data, config.model, dataset=dataset)
            images, name = (splits.valid if split == "valid" else splits.test), split
            if not len(images):
                raise ValueError(f"this run has no {split} images; set data.{split} or pass --data")
        scores = classification_scores(
            classify_images(run.model, images.images), images.labels, run.classes
        )
        figure = plot_confusion_matrix(
            scores["confusion"],
            run.classes,
            path=out_dir / f"confusion-{name}.png",
            title=f"{run.run_dir.root.name} on {name}: accuracy {scores['accuracy']:.2%}",
        )
        return {
            **head,
            "data": name,
            **scores,
            "confusion_png": str(figure),
            "seconds": round(time.perf_counter() - start, 1),
        }
    if data is not None:
        raise ValueError("--data is not supported for captioners: they are evaluated on mosaics")
    _, _, valid, test = load_caption_splits(config.data, config.model)
    mosaics = valid if split == "valid" else test
    hypotheses = caption_images(
        run.model,
        mosaics.images,
        run.tokenizer,
        beam=beam,
        length_penalty=length_penalty,
        max_len=config.model.max_len - 1,
    )
    stem = out_dir / f"{split}.beam{beam}"
    stem.with_suffix(".hyp").write_text("\n".join(hypotheses) + "\n", encoding="utf-8")
    stem.with_suffix(".ref").write_text("\n".join(mosaics.captions) + "\n", encoding="utf-8")
    return {
        **head,
        "data": f"{split} mosaics (unseen source images)",
        "beam": beam,
        **caption_scores(hypotheses, mosaics.captions),
        "seconds": round(time.perf_counter() - start, 1),
        "hypotheses": str(stem.with_suffix(".hyp")),
    }


def write_vision_samples(
    run_dir: str | Path, out: str | Path, *, count: int = 8, split: str = "test"
) -> list[Path]:
    """Write ``count`` held-out images of a run's data as PNG files (named after their
    class or caption), to try ``attnkit classify`` / ``caption`` / ``attention`` on."""
    run = load_run(run_dir)
    if run.config.model.kind not in ("vit", "captioner"):
        raise ValueError(f"{run_dir} holds a {run.config.model.kind} model, not an image model")
    if split not in ("valid", "test") or count < 1:
        raise ValueError(f"need --split valid or test and --count >= 1, got {split!r}, {count}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    config = run.config
    if config.model.kind == "vit":
        dataset = read_classes(run.run_dir.root).get("dataset")
        splits = load_classification_splits(config.data, config.model, dataset=dataset)
        images = splits.valid if split == "valid" else splits.test
        names = [images.classes[i] for i in images.labels.tolist()]
    else:
        _, _, valid, test = load_caption_splits(config.data, config.model)
        images = valid if split == "valid" else test
        names = images.captions
    paths = []
    for index in range(min(count, len(names))):
        slug = "".join(c if c.isalnum() else "-" for c in names[index].lower()).strip("-")
        paths.append(write_png(out / f"{index:02d}-{slug}.png", images.images[index]))
    return paths


def plot_image_attention(
    run_dir: str | Path,
    image: str | Path,
    out: str | Path,
    *,
    layer: int | None = None,
    head: int | None = None,
) -> Path:
    """Attention of an image model drawn over the picture.

    Captioners: the image is captioned (greedy), then one panel per word shows that
    word's cross-attention over the image regions (last layer, or ``layer``; mean of
    heads, or ``head``). Classifiers: the class token's attention over the patches in
    every layer (mean of heads, or ``head``), then the attention rollout.
    """
    run = load_run(run_dir)
    kind = run.config.model.kind
    if kind not in ("vit", "captioner"):
        raise ValueError(f"{run_dir} holds a {kind} model: pass --text, not --image")
    picture = _model_image(run, image)
    x = normalize_images(picture)[None]  # (1, C, H, W)
    with torch.no_grad():
        if kind == "captioner":
            words = caption(run, picture)
            ids = [1, *caption_to_ids(run.tokenizer, words)]
            maps = run.model(x, torch.tensor([ids]), need_weights=True).attentions
            cross = maps.stacked("cross")[:, 0]  # (L, H, T, P)
            _check_layer_head(layer, head, cross.shape[0], cross.shape[1])
            chosen = cross[-1 if layer is None else layer]
            weights = chosen.mean(0) if head is None else chosen[head]  # (T, P)
            shown = words.split() or ["<eos>"]
            return plot_caption_attention(
                picture,
                shown,
                weights[: len(shown)],
                run.model.grid,
                path=out,
                title=f"“{words}”: where each word looked",
            )
        output = run.model(x, need_weights=True)
    maps = output.attentions.stacked("encoder")[:, 0]  # (L, H, T, T)
    _check_layer_head(layer, head, maps.shape[0], maps.shape[1])
    per_head = maps if head is None else maps[:, head : head + 1]
    has_cls = run.config.model.pooling == "cls"
    # With mean pooling there is no class token: show the attention each patch receives.
    received = per_head.mean(1)[:, 0, 1:] if has_cls else per_head.mean(1).mean(1)  # (L, P)
    rollout = attention_rollout(maps)
    rolled = rollout[0, 1:] if has_cls else rollout.mean(0)
    label, prob = classify(run, picture, top_k=1)[0]
    return plot_class_attention(
        picture,
        received,
        rolled,
        run.model.grid,
        path=out,
        title=f"predicted {label} ({prob:.0%})" + ("" if head is None else f", head {head}"),
    )
