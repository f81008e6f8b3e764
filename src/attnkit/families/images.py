"""Runs of image models: the vision Transformer classifier (classify, accuracy and a
confusion matrix, class-token attention and rollout) and the captioner (caption,
caption accuracy and BLEU, where each word looked)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnkit.data.images import caption_to_ids, normalize_images, read_image_folder
from attnkit.decoding.bounds import check_beam
from attnkit.evaluation.images import (
    caption_images,
    caption_scores,
    classification_scores,
    classify_images,
)
from attnkit.families.base import (
    Progress,
    check_layer_head,
    decoding_cost,
    model_image,
    tokenizer_summary,
    write_outputs,
)
from attnkit.training.image_tasks import (
    load_caption_splits,
    load_classification_splits,
    read_classes,
)
from attnkit.training.rundir import LoadedRun
from attnkit.viz.image_attention import (
    attention_rollout,
    plot_caption_attention,
    plot_class_attention,
    plot_confusion_matrix,
)

__all__ = ["Captioner", "ImageClassifier"]


def _write_figure(draw, path: Path) -> str | None:
    """``draw(path)`` (a figure), or a one-line warning when ``path`` cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(draw(path))
    except OSError as exc:
        warnings.warn(
            f"cannot write {path} ({exc.strerror or exc}): the scores are printed, the figure "
            f"is not kept; pass out= a writable folder to keep it",
            stacklevel=3,
        )
        return None


class ImageClassifier:
    """A vision Transformer classifier (``model.kind = "vit"``): class names, no tokenizer."""

    noun = "image classifier"

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        return {"classes": run.classes}

    def classify(
        self, run: LoadedRun, image: str | Path | Tensor, *, top_k: int
    ) -> list[tuple[str, float]]:
        """The ``top_k`` likeliest classes; see :func:`attnkit.api.classify`."""
        if top_k < 1:
            raise ValueError(f"top_k={top_k}: ask for at least one class")
        probs = classify_images(run.model, model_image(run, image)[None])[0]
        values, ids = probs.topk(min(top_k, len(probs)))
        return [(run.classes[i], float(v)) for v, i in zip(values, ids.tolist(), strict=True)]

    def _split(self, run: LoadedRun, split: str):
        dataset = read_classes(run.run_dir.root).get("dataset")
        splits = load_classification_splits(run.config.data, run.config.model, dataset=dataset)
        return splits.valid if split == "valid" else splits.test

    def held_out_images(self, run: LoadedRun, split: str) -> tuple[Tensor, list[str]]:
        """The ``split``'s images, named after their class."""
        images = self._split(run, split)
        return images.images, [images.classes[i] for i in images.labels.tolist()]

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
    ) -> dict[str, Any]:
        """Accuracy, per-class accuracy and a confusion-matrix PNG (into the folder
        ``out``) on the ``split`` or on a ``data`` folder (one sub-folder per class);
        ``beam`` does not apply."""
        config, start = run.config.model, time.perf_counter()
        if data is not None:
            size = (config.image_height, config.image_width)
            images = read_image_folder(
                data, size=size, channels=config.channels, classes=tuple(run.classes)
            )
            name = Path(data).name
        else:
            images, name = self._split(run, split), split
            if not len(images):
                raise ValueError(
                    f"this run has no {split} images: set data.{split} in its recipe, or pass "
                    f"data= (a folder with one sub-folder per class)"
                )
        probs = classify_images(run.model, images.images, progress=progress)
        scores = classification_scores(probs, images.labels, run.classes)
        figure = _write_figure(
            lambda path: plot_confusion_matrix(
                scores["confusion"],
                run.classes,
                path=path,
                title=f"{run.run_dir.root.name} on {name}: accuracy {scores['accuracy']:.2%}",
            ),
            out / f"confusion-{name}.png",
        )
        return {
            "data": name,
            **scores,
            **({"confusion_png": figure} if figure else {}),
            "seconds": round(time.perf_counter() - start, 1),
        }

    def plot_image_attention(
        self,
        run: LoadedRun,
        image: str | Path | Tensor,
        out: Path,
        *,
        layer: int | None,
        head: int | None,
    ) -> Path:
        """The class token's attention over the patches in every layer (mean of heads, or
        ``head``), then the attention rollout; ``layer`` only checks that it exists."""
        picture = model_image(run, image)
        with torch.no_grad():
            output = run.model(normalize_images(picture)[None], need_weights=True)
        maps = output.attentions.stacked("encoder")[:, 0]  # (L, H, T, T)
        check_layer_head(layer, head, maps.shape[0], maps.shape[1])
        per_head = maps if head is None else maps[:, head : head + 1]
        has_cls = run.config.model.pooling == "cls"
        # With mean pooling there is no class token: show the attention each patch receives.
        received = per_head.mean(1)[:, 0, 1:] if has_cls else per_head.mean(1).mean(1)  # (L, P)
        rollout = attention_rollout(maps)
        rolled = rollout[0, 1:] if has_cls else rollout.mean(0)  # (P,)
        label, prob = self.classify(run, picture, top_k=1)[0]
        return plot_class_attention(
            picture,
            received,
            rolled,
            run.model.grid,
            path=out,
            title=f"predicted {label} ({prob:.0%})" + ("" if head is None else f", head {head}"),
        )


class Captioner:
    """An image captioner (``model.kind = "captioner"``): image regions in, words out."""

    noun = "captioner"

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        return {"tokenizer": tokenizer_summary(run.tokenizer)}

    def caption(
        self, run: LoadedRun, image: str | Path | Tensor, *, beam: int, length_penalty: float
    ) -> str:
        """A caption for one image; see :func:`attnkit.api.caption`."""
        check_beam(beam, 1, run.tokenizer.vocab_size)
        return caption_images(
            run.model,
            model_image(run, image)[None],
            run.tokenizer,
            beam=beam,
            length_penalty=length_penalty,
            max_len=run.config.model.max_len - 1,
            cost=decoding_cost(run),
        )[0]

    def held_out_images(self, run: LoadedRun, split: str) -> tuple[Tensor, list[str]]:
        """The ``split``'s mosaics, named after their caption."""
        _, _, valid, test = load_caption_splits(run.config.data, run.config.model)
        mosaics = valid if split == "valid" else test
        return mosaics.images, list(mosaics.captions)

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
    ) -> dict[str, Any]:
        """Per-word and whole-caption accuracy and BLEU on the ``split``'s mosaics (made
        of images never trained on); hypotheses and references go to the folder ``out``."""
        check_beam(beam, 1, run.tokenizer.vocab_size)
        if data is not None:
            raise ValueError(
                "data= does not apply to captioners: they are evaluated on the split's "
                "mosaics; pass split='valid' or split='test'"
            )
        start = time.perf_counter()
        _, _, valid, test = load_caption_splits(run.config.data, run.config.model)
        mosaics = valid if split == "valid" else test
        hypotheses = caption_images(
            run.model,
            mosaics.images,
            run.tokenizer,
            beam=beam,
            length_penalty=length_penalty,
            max_len=run.config.model.max_len - 1,
            cost=decoding_cost(run),
            progress=progress,
        )
        stem = f"{split}.beam{beam}" + (".int8" if int8 else "")
        written = write_outputs(
            out,
            {
                f"{stem}.hyp": "\n".join(hypotheses) + "\n",
                f"{stem}.ref": "\n".join(mosaics.captions) + "\n",
            },
        )
        return {
            "data": f"{split} mosaics (unseen source images)",
            "beam": beam,
            **caption_scores(hypotheses, mosaics.captions),
            "seconds": round(time.perf_counter() - start, 1),
            **({"hypotheses": written[f"{stem}.hyp"]} if written else {}),
        }

    def plot_image_attention(
        self,
        run: LoadedRun,
        image: str | Path | Tensor,
        out: Path,
        *,
        layer: int | None,
        head: int | None,
    ) -> Path:
        """The image is captioned (greedy), then one panel per word shows that word's
        cross-attention over the image regions (last layer, or ``layer``; mean of heads,
        or ``head``)."""
        picture = model_image(run, image)
        words = self.caption(run, picture, beam=1, length_penalty=0.6)
        # The decoder's input as in training (CaptioningTask.collate): BOS + caption.
        ids = [run.tokenizer.bos_id, *caption_to_ids(run.tokenizer, words)]
        with torch.no_grad():
            maps = run.model(
                normalize_images(picture)[None], torch.tensor([ids]), need_weights=True
            ).attentions
        cross = maps.stacked("cross")[:, 0]  # (L, H, T, P)
        check_layer_head(layer, head, cross.shape[0], cross.shape[1])
        chosen = cross[-1 if layer is None else layer]  # (H, T, P)
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
