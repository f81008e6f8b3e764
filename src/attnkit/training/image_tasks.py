"""What the trainer trains on for images: classification (a vision Transformer) and
captioning (an image captioner). Same protocol as the text tasks in
:mod:`attnkit.training.tasks`: batches as a pure function of the update index, a
summed loss with its count, a validation evaluation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.config import DataConfig, ImageCaptionerConfig, VisionTransformerConfig
from attnkit.data.images import (
    ImageSet,
    ImageSplits,
    MosaicSet,
    caption_to_ids,
    caption_words,
    load_image_dataset,
    make_mosaics,
    normalize_images,
    read_image_folder,
    resolve_image_corpus,
    shift_images,
)
from attnkit.data.tokenizers import WordTokenizer
from attnkit.evaluation.metrics import perplexity
from attnkit.training.losses import IGNORE_INDEX, batch_loss, token_cross_entropy

__all__ = [
    "CLASSES_FILE",
    "CaptioningTask",
    "ImageClassificationTask",
    "caption_tokenizer",
    "load_caption_splits",
    "load_classification_splits",
    "read_classes",
]

CLASSES_FILE = "classes.json"  # a classifier's class names, in its run directory
SPECIALS = ("<pad>", "<bos>", "<eos>")  # ids 0, 1, 2, as for translation
_BUILTIN_SIZE = (1, 28, 28)  # (C, H, W) of the installed (Fashion-)MNIST images


def _seeded(*parts: int) -> torch.Generator:
    seed = 0
    for part in parts:
        seed = seed * 1_000_003 + part
    return torch.Generator().manual_seed(seed % (2**63))


def _epoch_rows(count: int, index: int, batch_size: int, seed: int) -> Tensor:
    """Rows of global batch ``index``: epochs of a fresh permutation of ``count`` rows,
    a pure function of ``(seed, index)`` so resuming needs only the index."""
    per_epoch = max(1, count // batch_size)  # the last partial batch is dropped
    epoch, position = divmod(index, per_epoch)
    order = torch.randperm(count, generator=_seeded(seed, epoch))
    return order[position * batch_size : (position + 1) * batch_size]


def _check_size(name: str, shape: tuple[int, ...], config: Any) -> None:
    wanted = (config.channels, config.image_height, config.image_width)
    if tuple(shape) != wanted:
        raise ValueError(
            f"{name} images are {shape[2]}×{shape[1]} with {shape[0]} channel(s) but the "
            f"model expects {wanted[2]}×{wanted[1]} with {wanted[0]}: set "
            f"model.image_width = {shape[2]}, model.image_height = {shape[1]}, "
            f"model.channels = {shape[0]}"
        )


def read_classes(run_dir: Path) -> dict[str, Any]:
    """A classifier run's ``classes.json``: ``{"dataset": ..., "classes": [...]}``."""
    path = Path(run_dir) / CLASSES_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{path} is missing or unreadable: {exc}") from None


def load_classification_splits(
    data: DataConfig, model: VisionTransformerConfig, *, dataset: str | None = None
) -> ImageSplits:
    """Train, validation and test images of a classifier's data config: a folder
    (``data.train``; ``data.valid`` / ``data.test`` or the last ``val_fraction``) or an
    installed dataset. ``dataset`` (from a run's ``classes.json``) pins an unset corpus."""
    size = (model.image_height, model.image_width)
    if data.train:
        train = read_image_folder(data.train, size=size, channels=model.channels)

        def folder(path: str | None) -> ImageSet | None:
            if not path:
                return None
            return read_image_folder(
                path, size=size, channels=model.channels, classes=train.classes
            )

        valid, test = folder(data.valid), folder(data.test)
        if valid is None:
            held = torch.zeros(len(train), dtype=torch.bool)
            order = torch.randperm(len(train), generator=_seeded(0))
            held[order[: max(1, round(data.val_fraction * len(train)))]] = True
            train, valid = (
                train.subset((~held).nonzero().squeeze(1)),
                train.subset(held.nonzero().squeeze(1)),
            )
        if test is None:
            test = ImageSet(train.images[:0], train.labels[:0], train.classes)
        return ImageSplits(str(data.train), train, valid, test)
    name, note = resolve_image_corpus(data.corpus or dataset)
    if note:
        warnings.warn(note, stacklevel=2)
    splits = load_image_dataset(name, val_fraction=data.val_fraction)
    _check_size(name, _BUILTIN_SIZE, model)
    return splits


class ImageClassificationTask:
    """Image classification: cross-entropy of the class, one count per image.

    Args:
        data: the data config.
        model: the classifier's config (image size and channels).
        seed: seeds the batch order and the augmentation.
    """

    def __init__(self, data: DataConfig, model: VisionTransformerConfig, *, seed: int):
        self.splits = load_classification_splits(data, model)
        self.train, self.valid = self.splits.train, self.splits.valid
        self.classes = self.train.classes
        self.seed, self.shift, self.flip = seed, data.augment_shift, data.augment_flip
        self.stats = {
            "dataset": self.splits.name,
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.splits.test),
        }

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """The model config's fields set from the data: the number of classes."""
        return {"num_classes": len(self.classes)}

    def save_tokenizers(self, run_dir: Path) -> None:
        """A classifier has no tokenizer: its class names go to ``classes.json``."""
        payload = {"dataset": self.splits.name, "classes": list(self.classes)}
        (Path(run_dir) / CLASSES_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index``."""
        rows = _epoch_rows(len(self.train), index, batch_size, self.seed)[rank::world_size]
        images = normalize_images(self.train.images[rows])  # (B, C, H, W)
        generator = _seeded(self.seed, index, rank, 7)
        images = shift_images(images, self.shift, generator)
        if self.flip:
            flipped = torch.rand(len(images), generator=generator) < 0.5
            images[flipped] = images[flipped].flip(-1)
        labels = self.train.labels[rows]
        return [
            {"images": x, "labels": y}
            for x, y in zip(images.chunk(accumulate), labels.chunk(accumulate), strict=True)
        ]

    loss = staticmethod(batch_loss)

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Validation loss and accuracy (on the first ``max_batches`` batches)."""
        was_training = model.training
        model.eval()
        total, correct, count = 0.0, 0, 0
        limit = len(self.valid) if max_batches is None else max_batches * batch_size
        for start in range(0, min(limit, len(self.valid)), batch_size):
            images = normalize_images(self.valid.images[start : start + batch_size]).to(device)
            labels = self.valid.labels[start : start + batch_size].to(device)
            logits = model(images).logits.float()
            total += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(-1) == labels).sum())
            count += len(labels)
        model.train(was_training)
        return {"loss": total / max(count, 1), "accuracy": correct / max(count, 1)}


def caption_tokenizer(kind: str) -> WordTokenizer:
    """The fixed caption vocabulary of ``digit-mosaics`` or ``fashion-pairs``: specials
    ``<pad> <bos> <eos>`` at ids 0–2, then ``<unk>``, then the words."""
    return WordTokenizer(caption_words(kind), specials=SPECIALS)


def load_caption_splits(
    data: DataConfig, model: ImageCaptionerConfig
) -> tuple[str, ImageSplits, MosaicSet, MosaicSet]:
    """The kind of mosaics, their source images (split by source image) and the fixed
    validation and test mosaics (``data.eval_images`` each, from held-out images only)."""
    kind = data.corpus_for("captioner")
    source = "mnist-5k" if kind == "digit-mosaics" else "fashion-mnist"
    size = data.mosaic_size if kind == "digit-mosaics" else 2
    splits = load_image_dataset(source, val_fraction=data.val_fraction)
    _check_size(kind, (1, 28, 28 * size), model)
    valid = make_mosaics(splits.valid, data.eval_images, size=size, kind=kind, generator=_seeded(2))
    test = make_mosaics(splits.test, data.eval_images, size=size, kind=kind, generator=_seeded(3))
    return kind, splits, valid, test


class CaptioningTask:
    """Image captioning with teacher forcing on mosaics drawn afresh for every batch
    from the training source images (so the model never sees the same mosaic twice,
    and never a validation or test image).

    Args:
        data: the data config (``corpus``, ``mosaic_size``, ``eval_images``, augmentation).
        model: the captioner's config (image size).
        seed: seeds the mosaics and the augmentation.
    """

    def __init__(self, data: DataConfig, model: ImageCaptionerConfig, *, seed: int):
        self.kind, self.splits, self.valid, self.test = load_caption_splits(data, model)
        self.size = data.mosaic_size if self.kind == "digit-mosaics" else 2
        self.tokenizer = caption_tokenizer(self.kind)
        self.seed, self.shift = seed, data.augment_shift
        self.stats = {
            "mosaics": self.kind,
            "train source images": len(self.splits.train),
            "valid mosaics": len(self.valid),
            "test mosaics": len(self.test),
        }

    @property
    def vocab_sizes(self) -> dict[str, int]:
        return {"tgt_vocab_size": self.tokenizer.vocab_size}

    def save_tokenizers(self, run_dir: Path) -> None:
        self.tokenizer.save(Path(run_dir) / "tokenizer.json")

    def collate(self, images: Tensor, captions: list[str]) -> dict[str, Tensor]:
        """Normalise images and turn captions into decoder inputs and labels.

        Shape:
            images ``(B, C, H, W)`` uint8 → images float, tgt ``(B, T)`` (BOS +
            caption, then padding), labels ``(B, T)`` (caption + EOS, ``-100`` padding).
        """
        words = self.tokenizer
        encoded = [caption_to_ids(words, c) for c in captions]
        width = max(len(ids) for ids in encoded) + 1
        tgt_in = torch.full((len(encoded), width), words.pad_id, dtype=torch.long)
        labels = torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long)
        for row, ids in enumerate(encoded):
            tgt_in[row, : len(ids) + 1] = torch.tensor([words.bos_id, *ids])
            labels[row, : len(ids) + 1] = torch.tensor([*ids, words.eos_id])
        return {"images": normalize_images(images), "tgt": tgt_in, "labels": labels}

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index``: fresh training mosaics."""
        generator = _seeded(self.seed, index, 11)
        mosaics = make_mosaics(
            self.splits.train, batch_size, size=self.size, kind=self.kind, generator=generator
        )
        rows = torch.arange(batch_size)[rank::world_size]
        batch = self.collate(mosaics.images[rows], [mosaics.captions[i] for i in rows.tolist()])
        batch["images"] = shift_images(batch["images"], self.shift, generator)
        return [
            dict(zip(batch, parts, strict=True))
            for parts in zip(*(v.chunk(accumulate) for v in batch.values()), strict=True)
        ]

    loss = staticmethod(batch_loss)

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Teacher-forced validation loss, perplexity and next-word accuracy."""
        was_training = model.training
        model.eval()
        total, count, correct = 0.0, 0, 0
        limit = len(self.valid) if max_batches is None else max_batches * batch_size
        for start in range(0, min(limit, len(self.valid)), batch_size):
            end = start + batch_size
            batch = self.collate(self.valid.images[start:end], self.valid.captions[start:end])
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(batch["images"], batch["tgt"]).logits
            summed, tokens = token_cross_entropy(logits, batch["labels"], label_smoothing=0.0)
            real = batch["labels"] != IGNORE_INDEX
            correct += int(((logits.argmax(-1) == batch["labels"]) & real).sum())
            total, count = total + float(summed), count + int(tokens)
        model.train(was_training)
        mean = total / max(count, 1)
        return {
            "loss": mean,
            "perplexity": perplexity(mean),
            "word_accuracy": correct / max(count, 1),
        }
