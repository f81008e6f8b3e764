"""What the explorer's page shows, computed from a loaded run as JSON-ready dicts.

Each function here takes a :class:`~attnkit.training.rundir.LoadedRun` and plain values
and raises ``ValueError`` with a one-line message for input the run cannot take; the app
(:mod:`attnkit.explorer.app`) turns that into a 4xx answer. Numbers are rounded to
:data:`DIGITS` decimals (the page draws them; JSON size matters for long inputs).
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from attnkit.api import fill_mask
from attnkit.data.images import caption_to_ids, normalize_images
from attnkit.explorer.worked import capture_inputs, explain_head
from attnkit.families import family_of
from attnkit.families.base import (
    Captions,
    Classifies,
    DrawsImageAttention,
    DrawsTextAttention,
    FillsMasks,
    Generates,
    HoldsOutImages,
    Translates,
    check_layer_head,
    in_run_terms,
    model_image,
    token_label,
)
from attnkit.families.language_model import self_attention_maps
from attnkit.training.rundir import LoadedRun
from attnkit.viz.image_attention import attention_rollout

__all__ = [
    "DIGITS",
    "Limits",
    "decode_image",
    "image_attention",
    "next_token",
    "run_summary",
    "samples",
    "text_attention",
    "tokenize",
    "translate_steps",
    "masked_candidates",
    "worked_example",
]

DIGITS = 4


@dataclass(frozen=True)
class Limits:
    """The bounds on what one request may ask for (each named in the error it causes)."""

    max_text_chars: int = 2000
    max_tokens: int = 256
    max_image_bytes: int = 2_000_000
    max_image_side: int = 1024
    max_top_k: int = 50
    max_beam: int = 8
    max_steps: int = 100


def _round(value: Any) -> Any:
    """A tensor (or nested lists) as nested lists of rounded floats."""
    if isinstance(value, Tensor):
        value = value.detach().float().cpu().tolist()
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, float):
        return round(value, DIGITS) if math.isfinite(value) else None
    return value


def _device(run: LoadedRun) -> torch.device:
    return next(run.model.parameters()).device


_SPECIALS = {"mask_id": "[MASK]", "bos_id": "<bos>", "eos_id": "<eos>", "unk_id": "<unk>"}


def _piece(tokenizer, token_id: int) -> str:
    """A token as the model saw it: an imported tokenizer's piece ("##ing", "[CLS]"), a
    special token by its name (decoding drops it)."""
    piece = getattr(tokenizer, "token", None)
    if piece:
        return piece(token_id)
    for attribute, name in _SPECIALS.items():
        if getattr(tokenizer, attribute, None) == token_id:
            return name
    return tokenizer.decode([token_id])


def _check_text(text: Any, limits: Limits, *, parameter: str = "text") -> str:
    if not isinstance(text, str):
        raise ValueError(f"{parameter} must be a string")
    if not text.strip():
        raise ValueError(f"{parameter} is empty: type some text")
    if len(text) > limits.max_text_chars:
        raise ValueError(
            f"{parameter} is {len(text)} characters; the limit is {limits.max_text_chars} "
            f"(max_text_chars): shorten it"
        )
    return text


def _check_tokens(count: int, limits: Limits, *, what: str = "text") -> None:
    if count > limits.max_tokens:
        raise ValueError(
            f"{what} is {count} tokens; the limit is {limits.max_tokens} (max_tokens): "
            f"shorten it, or start the explorer with a larger --max-tokens"
        )


def _check_top_k(top_k: Any, limits: Limits) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limits.max_top_k:
        raise ValueError(f"top_k={top_k!r}: pass a whole number from 1 to {limits.max_top_k}")
    return top_k


# --------------------------------------------------------------------------- runs


def run_summary(run_id: str, run: LoadedRun) -> dict[str, Any]:
    """What the page needs to know about a run: its family, size and what it can do."""
    family = family_of(run)
    config = run.config.model
    can = {
        "text_attention": isinstance(family, DrawsTextAttention),
        "next_token": isinstance(family, Generates),
        # an imported sentence encoder may have no MLM head: nothing to fill with
        "fill_mask": isinstance(family, FillsMasks)
        and getattr(run.model, "mlm_decoder", None) is not None
        and getattr(run.tokenizer, "mask_id", None) is not None,
        "translate": isinstance(family, Translates),
        "classify": isinstance(family, Classifies),
        "caption": isinstance(family, Captions),
        "image_attention": isinstance(family, DrawsImageAttention),
        "samples": isinstance(family, HoldsOutImages),
    }
    layers = getattr(config, "num_layers", None) or getattr(config, "num_decoder_layers", None)
    return {
        "id": run_id,
        "name": run.run_dir.root.name,
        "kind": config.kind,
        "family": family.noun,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "step": run.checkpoint.trainer_state.get("step"),
        "layers": layers,
        "heads": getattr(config, "num_heads", 1),
        "can": [name for name, yes in can.items() if yes],
    }


def tokenize(run: LoadedRun, text: str, limits: Limits) -> dict[str, Any]:
    """The tokens of ``text`` as the run's (source) tokenizer cuts it."""
    text = _check_text(text, limits)
    tokenizer = run.source_tokenizer or run.tokenizer
    if tokenizer is None:
        raise ValueError(f"{run.run_dir.root.name} reads images, not text")
    try:
        ids = tokenizer.encode(text)
    except ValueError as exc:
        raise ValueError(f"text: {in_run_terms(str(exc))}") from None
    return {"ids": ids, "tokens": [token_label(_piece(tokenizer, i)) for i in ids]}


# --------------------------------------------------------------------------- text


@dataclass
class _TextPass:
    """One forward pass over a text, ready to run again (for the worked example): the
    labels of each stack's queries and keys, and the maps it returned."""

    forward: Callable[[], Any]
    labels: dict[str, tuple[list[str], list[str]]]
    maps: dict[str, Tensor]  # stack -> (L, H, Tq, Tk)
    extra: dict[str, Any]


def _single_stack(run: LoadedRun) -> str:
    return "decoder" if run.config.model.kind == "decoder_lm" else "encoder"


def _text_pass(run: LoadedRun, text: str, limits: Limits) -> _TextPass:
    text = _check_text(text, limits)
    family = family_of(run)
    if not isinstance(family, DrawsTextAttention):
        raise ValueError(
            f"{run.run_dir.root.name} holds {family.noun}, which reads images: use the image view"
        )
    device = _device(run)
    if not run.is_translator:
        stack = _single_stack(run)
        ids = tokenize(run, text, limits)["ids"]
        _check_tokens(len(ids), limits)
        ids, _, maps = self_attention_maps(run, text, stack=stack)
        labels = [token_label(_piece(run.tokenizer, i)) for i in ids]
        tokens = torch.tensor([ids], device=device)
        return _TextPass(
            lambda: run.model(tokens, need_weights=True),
            {stack: (labels, labels)},
            {stack: maps},
            {},
        )
    source_tok, target_tok = run.source_tokenizer, run.tokenizer
    src_count = len(tokenize(run, text, limits)["ids"])
    _check_tokens(src_count, limits)
    translation = family.translate(
        run, [text], beam=1, length_penalty=0.6, n_best=1, max_new_tokens=limits.max_steps
    )[0][0]
    # What the model read in training (TranslationTask.collate): source + EOS in,
    # BOS + translation out.
    src_ids = [*source_tok.encode(text), source_tok.eos_id]
    tgt_ids = [target_tok.bos_id, *target_tok.encode(translation)]
    src, tgt = torch.tensor([src_ids], device=device), torch.tensor([tgt_ids], device=device)

    def forward():
        return run.model(src, tgt, need_weights=True)

    with torch.no_grad():
        found = forward().attentions
    source = [token_label(source_tok.decode([i])) for i in src_ids[:-1]] + ["<eos>"]
    produced = [token_label(target_tok.decode([i])) for i in tgt_ids[1:]] + ["<eos>"]
    inputs = ["<bos>", *produced[:-1]]
    labels, maps = {}, {}
    for stack, queries, keys in (
        ("encoder", source, source),
        ("decoder", inputs, inputs),
        ("cross", produced, source),
    ):
        if getattr(found, stack):
            stacked = found.stacked(stack)[:, 0].cpu()  # (L, B, H, Tq, Tk) -> (L, H, Tq, Tk)
            if stacked.dim() == 3:  # a recurrent decoder's one head: (L, Tq, Tk)
                stacked = stacked[:, None]
            maps[stack], labels[stack] = stacked, (queries, keys)
    return _TextPass(forward, labels, maps, {"translation": translation})


def text_attention(run: LoadedRun, text: str, limits: Limits) -> dict[str, Any]:
    """Every attention map of a text model over ``text``: self-attention of a language
    model or encoder; a translator's encoder self-, decoder self- and cross-attention
    while it translates ``text`` (greedy).

    Shape:
        ``stacks[name]["maps"]`` ``(L, H, Tq, Tk)`` nested lists.
    """
    passed = _text_pass(run, text, limits)
    return {
        "text": text,
        **passed.extra,
        "stacks": {
            stack: {
                "queries": passed.labels[stack][0],
                "keys": passed.labels[stack][1],
                "maps": _round(maps),
            }
            for stack, maps in passed.maps.items()
        },
    }


def _attention_module(run: LoadedRun, stack: str, layer: int):
    model = run.model
    if stack == "cross":
        return model.decoder.layers[layer].cross_attn
    return getattr(model, stack).layers[layer].self_attn


def worked_example(
    run: LoadedRun, text: str, *, stack: str, layer: int, head: int, query: int, limits: Limits
) -> dict[str, Any]:
    """The notes' worked example for one head and one query token of ``text``
    (:func:`attnkit.explorer.worked.explain_head`), beside the weights the model itself
    returned for that row (``model_weights``, and their largest difference)."""
    passed = _text_pass(run, text, limits)
    if stack not in passed.maps:
        raise ValueError(f"stack={stack!r}: this run has {', '.join(passed.maps)} attention")
    if run.config.model.kind == "rnn_seq2seq":
        raise ValueError(
            "a recurrent translator's attention has no query/key projections to show: "
            "its decoder state is the query (see the cross-attention map)"
        )
    maps = passed.maps[stack]
    for name, value in (("layer", layer), ("head", head), ("query", query)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}={value!r}: pass a whole number")
    check_layer_head(layer, head, maps.shape[0], maps.shape[1])
    queries, keys = passed.labels[stack]
    if not 0 <= query < len(queries):
        raise ValueError(f"query={query} does not exist: the text has {len(queries)} queries")
    module = _attention_module(run, stack, layer)
    args, kwargs, _ = capture_inputs(module, passed.forward)
    example = explain_head(module, args, kwargs, head=head, query=query)
    model_weights = maps[layer, head, query]
    difference = (torch.tensor(example["weights"]) - model_weights).abs().max().item()
    return {
        "stack": stack,
        "layer": layer,
        "head": head,
        "query": query,
        "query_token": queries[query],
        "keys": keys,
        **{name: _round(value) for name, value in example.items()},
        "model_weights": _round(model_weights),
        "max_abs_difference": difference,
    }


def next_token(run: LoadedRun, text: str, *, top_k: int, limits: Limits) -> dict[str, Any]:
    """A language model's distribution over the token after ``text``: the ``top_k``
    likeliest (temperature 1) with their probabilities."""
    family = family_of(run)
    if not isinstance(family, Generates):
        raise ValueError(f"{run.run_dir.root.name} holds {family.noun}, not a language model")
    top_k = _check_top_k(top_k, limits)
    ids = tokenize(run, text, limits)["ids"]
    _check_tokens(len(ids), limits)
    config = run.config.model
    if config.positional == "learned" and len(ids) > config.max_len:
        ids = ids[-config.max_len :]  # the model sees its last max_len tokens
    with torch.no_grad():
        logits = run.model(torch.tensor([ids], device=_device(run))).logits[0, -1]  # (V,)
    probs, best = logits.float().softmax(-1).topk(min(top_k, logits.shape[-1]))
    return {
        "text": text,
        "candidates": [
            {"id": int(i), "token": run.tokenizer.decode([int(i)]), "prob": round(float(p), 6)}
            for p, i in zip(probs, best, strict=True)
        ],
    }


def masked_candidates(run: LoadedRun, text: str, *, top_k: int, limits: Limits) -> dict[str, Any]:
    """A masked-language model's candidates for each ``[MASK]`` of ``text``."""
    text = _check_text(text, limits)
    top_k = _check_top_k(top_k, limits)
    _check_tokens(len(tokenize(run, text, limits)["ids"]), limits)
    filled = fill_mask(run, text, top_k=top_k)
    return {
        "text": text,
        "masks": [
            {
                "position": mask.position,
                "candidates": [
                    {"token": token, "prob": round(p, 6)} for token, p in mask.candidates
                ],
            }
            for mask in filled
        ],
    }


def translate_steps(
    run: LoadedRun, text: str, *, beam: int, top_k: int, limits: Limits
) -> dict[str, Any]:
    """A translation step by step (greedy): at each step the token chosen, the
    ``top_k`` alternatives with their probabilities and the cross-attention of the new
    position in every layer and head; then the ``beam`` best translations of beam
    search with their scores (summed log-probabilities under the model)."""
    family = family_of(run)
    if not isinstance(family, Translates):
        raise ValueError(f"{run.run_dir.root.name} holds {family.noun}, not a translator")
    text = _check_text(text, limits)
    top_k = _check_top_k(top_k, limits)
    if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= limits.max_beam:
        raise ValueError(f"beam={beam!r}: pass a whole number from 1 to {limits.max_beam}")
    source_tok, target_tok = run.source_tokenizer, run.tokenizer
    try:
        src_ids = [*source_tok.encode(text), source_tok.eos_id]
    except ValueError as exc:
        raise ValueError(f"text: {exc}") from None
    _check_tokens(len(src_ids) - 1, limits)
    config = run.config.model
    max_steps = limits.max_steps
    if config.positional == "learned":
        max_steps = min(max_steps, config.max_len - 1)
    device = _device(run)
    src = torch.tensor([src_ids], device=device)
    tgt = [target_tok.bos_id]
    steps = []
    with torch.no_grad():
        for _ in range(max_steps):
            out = run.model(src, torch.tensor([tgt], device=device), need_weights=True)
            probs = out.logits[0, -1].float().softmax(-1)  # (V,)
            top_p, top_ids = probs.topk(min(top_k, probs.shape[-1]))
            chosen = int(top_ids[0])
            cross = out.attentions.stacked("cross")[:, 0]  # (L, H, T, S) or (L, T, S)
            cross = cross[:, :, -1] if cross.dim() == 4 else cross[:, None, -1]  # (L, H, S)
            steps.append(
                {
                    "token": _target_label(target_tok, chosen),
                    "prob": round(float(top_p[0]), 6),
                    "alternatives": [
                        {"token": _target_label(target_tok, int(i)), "prob": round(float(p), 6)}
                        for p, i in zip(top_p, top_ids, strict=True)
                    ],
                    "cross": _round(cross),
                }
            )
            if chosen == target_tok.eos_id:
                break
            tgt.append(chosen)
    best = family.translate(
        run, [text], beam=beam, length_penalty=0.6, n_best=beam, max_new_tokens=max_steps
    )[0]
    return {
        "text": text,
        "source": [token_label(source_tok.decode([i])) for i in src_ids[:-1]] + ["<eos>"],
        "steps": steps,
        "translation": target_tok.decode(tgt[1:]),
        "beam": [{"text": hyp, "score": _score(run, src_ids, hyp)} for hyp in best],
    }


def _target_label(tokenizer, token_id: int) -> str:
    if token_id == tokenizer.eos_id:
        return "<eos>"
    return token_label(tokenizer.decode([token_id]))


def _score(run: LoadedRun, src_ids: list[int], hypothesis: str) -> float:
    """The summed log-probability of ``hypothesis`` (and its EOS) given the source."""
    target_tok = run.tokenizer
    ids = [target_tok.bos_id, *target_tok.encode(hypothesis), target_tok.eos_id]
    device = _device(run)
    with torch.no_grad():
        logits = run.model(
            torch.tensor([src_ids], device=device), torch.tensor([ids[:-1]], device=device)
        ).logits[0]  # (T, V)
    logp = logits.float().log_softmax(-1).gather(1, torch.tensor(ids[1:], device=device)[:, None])
    return round(float(logp.sum()), 4)


# --------------------------------------------------------------------------- images


def decode_image(data: str, limits: Limits) -> Tensor:
    """A base64 PNG/JPEG (optionally a ``data:`` URL) as ``uint8`` ``(C, H, W)``."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, str) or not data:
        raise ValueError("image must be a base64-encoded PNG or JPEG")
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    if len(data) * 3 // 4 > limits.max_image_bytes:
        raise ValueError(
            f"image is about {len(data) * 3 // 4} bytes; the limit is {limits.max_image_bytes} "
            f"(max_image_bytes)"
        )
    try:
        raw = base64.b64decode(data, validate=True)
        picture = Image.open(io.BytesIO(raw))
        if max(picture.size) > limits.max_image_side:
            raise ValueError(
                f"image is {picture.size[0]}×{picture.size[1]} pixels; the limit is "
                f"{limits.max_image_side} per side (max_image_side)"
            )
        array = torch.from_numpy(np.asarray(picture.convert("RGB"), dtype=np.uint8).copy())
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if "limit" in str(exc):
            raise
        raise ValueError(f"image is not a readable PNG or JPEG ({exc})") from None
    return array.permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)


def _data_url(image: Tensor) -> str:
    from PIL import Image

    array = image.permute(1, 2, 0).numpy()
    picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def samples(run: LoadedRun, *, count: int = 8) -> dict[str, Any]:
    """``count`` held-out test images of the run's data, as PNG data URLs with names."""
    family = family_of(run)
    if not isinstance(family, HoldsOutImages):
        raise ValueError(f"{run.run_dir.root.name} holds {family.noun}, which reads no images")
    images, names = family.held_out_images(run, "test")
    return {
        "samples": [
            {"name": names[i], "image": _data_url(images[i])} for i in range(min(count, len(names)))
        ]
    }


def _fit(run: LoadedRun, image: Tensor) -> Tensor:
    """The picture in the model's channels and size (a resize is no error here)."""
    channels = run.config.model.channels
    if channels == 1 and image.shape[0] == 3:  # grey from RGB: the mean of the channels
        image = image.float().mean(0, keepdim=True).round().to(torch.uint8)
    elif channels == 3 and image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_image(run, image)


def image_attention(run: LoadedRun, image: Tensor) -> dict[str, Any]:
    """Where an image model looked: a classifier's class-token attention over the patches
    in every layer and head, the attention rollout and its prediction; a captioner's
    caption (greedy) and each word's cross-attention over the regions.

    Shape:
        ``class_attention`` ``(L, H, P)``, ``rollout`` ``(P,)``, ``cross`` ``(L, H, W, P)``
        for ``W`` words; ``grid`` is the patches' ``(rows, columns)``.
    """
    family = family_of(run)
    if not isinstance(family, DrawsImageAttention):
        raise ValueError(f"{run.run_dir.root.name} holds {family.noun}, which reads text")
    picture = _fit(run, image)
    device = _device(run)
    rows, cols = run.model.grid
    common = {"image": _data_url(picture), "grid": [rows, cols]}
    if isinstance(family, Classifies):
        with torch.no_grad():
            output = run.model(normalize_images(picture)[None].to(device), need_weights=True)
        maps = output.attentions.stacked("encoder")[:, 0].cpu()  # (L, H, T, T)
        has_cls = run.config.model.pooling == "cls"
        # With mean pooling there is no class token: the attention each patch receives.
        received = maps[:, :, 0, 1:] if has_cls else maps.mean(2)  # (L, H, P)
        rollout = attention_rollout(maps)
        rolled = rollout[0, 1:] if has_cls else rollout.mean(0)  # (P,)
        probs = output.logits[0].float().softmax(-1)
        top_p, top_i = probs.topk(min(5, probs.shape[-1]))
        return {
            **common,
            "kind": "classifier",
            "class_token": has_cls,
            "predictions": [
                {"label": run.classes[int(i)], "prob": round(float(p), 6)}
                for p, i in zip(top_p, top_i, strict=True)
            ],
            "class_attention": _round(received),
            "rollout": _round(rolled),
        }
    words = family.caption(run, picture, beam=1, length_penalty=0.6)
    ids = [run.tokenizer.bos_id, *caption_to_ids(run.tokenizer, words)]
    with torch.no_grad():
        maps = run.model(
            normalize_images(picture)[None].to(device),
            torch.tensor([ids], device=device),
            need_weights=True,
        ).attentions
    cross = maps.stacked("cross")[:, 0].cpu()  # (L, H, T, P)
    shown = words.split() or ["<eos>"]
    return {
        **common,
        "kind": "captioner",
        "caption": words,
        "words": shown,
        "cross": _round(cross[:, :, : len(shown)]),
    }
