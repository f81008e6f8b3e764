"""Evaluate image models: a classifier's accuracy and confusion matrix; a captioner's
per-word accuracy, whole-caption accuracy and BLEU. Captions are decoded with the same
greedy and beam search as translations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.data.images import ids_to_caption, normalize_images
from attnkit.decoding.beam import beam_search
from attnkit.decoding.bounds import RowCost, fit_batch
from attnkit.decoding.greedy import greedy_translate
from attnkit.nn import EncoderOutput, StackCache
from attnkit.protocols import Tokenizer

__all__ = [
    "ImageSource",
    "caption_images",
    "caption_scores",
    "classification_scores",
    "classify_images",
    "confusion_matrix",
]


@torch.no_grad()
def classify_images(
    model: nn.Module,
    images: Tensor,
    *,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Class probabilities of ``uint8`` images; ``progress`` is told ``(images done,
    total)`` after each batch.

    Shape:
        images ``(N, C, H, W)`` uint8 → ``(N, num_classes)`` float.
    """
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for i in range(0, len(images), batch_size):
        batch = normalize_images(images[i : i + batch_size]).to(device)
        chunks.append(model(batch).logits.float().softmax(-1))
        if progress is not None:
            progress(min(i + batch_size, len(images)), len(images))
    return torch.cat(chunks).cpu()


def confusion_matrix(predicted: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``matrix[true, predicted]`` counts.

    Shape:
        predicted, labels ``(N,)`` long → ``(num_classes, num_classes)`` long.
    """
    flat = labels * num_classes + predicted
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def classification_scores(probs: Tensor, labels: Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy and the confusion matrix of predicted
    probabilities ``(N, C)`` against labels ``(N,)``."""
    if len(labels) == 0:
        raise ValueError("no images to evaluate")
    predicted = probs.argmax(-1)
    matrix = confusion_matrix(predicted, labels, len(classes))
    per_class = matrix.diag().float() / matrix.sum(1).clamp_min(1).float()
    loss = -probs[torch.arange(len(labels)), labels].clamp_min(1e-12).log().mean()
    return {
        "accuracy": round(float((predicted == labels).float().mean()), 4),
        "loss": round(float(loss), 4),
        "images": len(labels),
        "per_class_accuracy": {
            c: round(float(a), 4) for c, a in zip(classes, per_class, strict=True)
        },
        "confusion": matrix.tolist(),
    }


class ImageSource:
    """Adapts an image captioner to the decoders' token-id source: the "source
    sentence" of row ``b`` is the one id ``b``, an index into a fixed batch of images.
    Greedy and beam search then encode, repeat and reorder it as they do a sentence.

    Shape:
        images ``(N, C, H, W)`` float; ``encode(src (B, 1))`` → memory ``(B, P, D)``.
    """

    def __init__(self, model: nn.Module, images: Tensor):
        self.model, self.images = model, images

    def encode(self, src: Tensor, *, src_padding_mask: Tensor | None = None) -> EncoderOutput:
        return self.model.encode(self.images[src[:, 0]])

    def new_cache(self) -> StackCache:
        return self.model.new_cache()

    def decode_step(self, tgt: Tensor, encoded: EncoderOutput, cache: StackCache) -> Tensor:
        return self.model.decode_step(tgt, encoded, cache)


@torch.no_grad()
def caption_images(
    model: nn.Module,
    images: Tensor,
    tokenizer: Tokenizer,
    *,
    beam: int = 1,
    length_penalty: float = 0.6,
    max_len: int = 20,
    batch_size: int = 128,
    cost: RowCost | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Caption ``uint8`` images: greedy (``beam=1``) or beam search.

    ``cost`` (what a decoder row holds) makes batches smaller when their beams would not
    fit in memory; ``progress`` is told ``(images done, total)`` after each batch.

    Shape:
        images ``(N, C, H, W)`` uint8 → N captions.
    """
    model.eval()
    device = next(model.parameters()).device
    bos, eos, pad = tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id
    if cost is not None:
        batch_size = fit_batch(batch_size, beam=beam, length=max_len, cost=cost)
    captions: list[str] = []
    for start in range(0, len(images), batch_size):
        chunk = normalize_images(images[start : start + batch_size]).to(device)
        source = ImageSource(model, chunk)
        rows = torch.arange(len(chunk), device=device).unsqueeze(1)  # (B, 1)
        real = torch.ones_like(rows, dtype=torch.bool)  # id 0 is an image, not padding
        if beam == 1:
            out = greedy_translate(
                source,
                rows,
                bos_id=bos,
                eos_id=eos,
                max_len=max_len,
                pad_id=pad,
                src_padding_mask=real,
            )
            hypotheses = [row.tolist() for row in out]
        else:
            result = beam_search(
                source,
                rows,
                beam_size=beam,
                max_len=max_len,
                bos_id=bos,
                eos_id=eos,
                pad_id=pad,
                length_penalty=length_penalty,
                src_padding_mask=real,
            )
            hypotheses = [sentence[0] for sentence in result.tokens]
        for ids in hypotheses:
            ids = ids[: ids.index(eos)] if eos in ids else ids
            captions.append(ids_to_caption(tokenizer, ids))
        if progress is not None:
            progress(len(captions), len(images))
    return captions


def caption_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Per-word accuracy (the reference's words matched at the same place; a missing
    or extra word counts as wrong), whole-caption accuracy, and sacreBLEU.

    BLEU counts n-grams up to 4 words, but three-word captions have no 4-grams (BLEU-4
    would be 0 for perfect captions): the order is capped at the shortest reference's
    length (reported as ``bleu_max_ngram``).
    """
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} captions for {len(references)} references")
    if not references:
        raise ValueError("no captions to score")
    right = total = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        hyp, ref = hypothesis.split(), reference.split()
        right += sum(h == r for h, r in zip(hyp, ref, strict=False))
        total += max(len(hyp), len(ref))
    order = max(1, min(4, min(len(r.split()) for r in references)))
    bleu = sacrebleu.metrics.BLEU(max_ngram_order=order)
    score = bleu.corpus_score(list(hypotheses), [list(references)])
    exact = sum(h == r for h, r in zip(hypotheses, references, strict=True))
    return {
        "word_accuracy": round(right / max(total, 1), 4),
        "caption_accuracy": round(exact / len(references), 4),
        "bleu": round(score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_max_ngram": order,
        "captions": len(hypotheses),
    }
