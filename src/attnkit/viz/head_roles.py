"""What each attention head looks at, measured over many sentences (Clark et al. 2019,
"What Does BERT Look At?").

For every layer and head, the mean attention weight that a token gives to

* ``previous`` / ``next`` — the token just before / after it;
* ``self`` — itself;
* ``same word`` — the other pieces of its own word (tokens of words cut in several
  word pieces only: ``play`` → ``##ing``);
* ``[CLS]`` / ``[SEP]`` — the special tokens around the sentence (a head with nothing to
  do often parks its attention there: Clark et al. found it on ``[SEP]``);

averaged over the real tokens of every sentence (the special tokens themselves are not
queries). Uniform attention gives each role ``(its targets) / (sentence length)``;
``HeadRoles.uniform`` holds that baseline for the same sentences, so a head stands out
when its value is many times the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from attnkit.viz.plots import save_figure

__all__ = ["ROLES", "HeadRoles", "measure_head_roles", "plot_head_roles", "role_masks"]

ROLES = ("previous", "next", "self", "same word", "[CLS]", "[SEP]")


def role_masks(
    word_ids: Sequence[int | None], *, cls: Sequence[bool], sep: Sequence[bool]
) -> dict[str, tuple[Tensor, Tensor]]:
    """For each role: which keys count for each query ``(T, T)`` and which queries are
    measured ``(T,)``, for one sentence of ``T`` tokens.

    Args:
        word_ids: the word each token is a piece of (``None`` for special tokens).
        cls, sep: which tokens are ``[CLS]`` / ``[SEP]``.

    Shape:
        role → (targets ``(T, T)`` bool, queries ``(T,)`` bool).
    """
    length = len(word_ids)
    words = torch.tensor([-1 if w is None else w for w in word_ids])  # (T,)
    real = words >= 0  # (T,) the queries: every token but the specials
    index = torch.arange(length)
    offset = index[None, :] - index[:, None]  # (T, T): key position − query position
    same = (words[:, None] == words[None, :]) & real[:, None] & real[None, :]  # (T, T)
    pieces = same.sum(-1)  # (T,) pieces of each token's word
    cls_keys = torch.tensor(list(cls), dtype=torch.bool)[None, :].expand(length, -1)
    sep_keys = torch.tensor(list(sep), dtype=torch.bool)[None, :].expand(length, -1)
    return {
        "previous": (offset == -1, real & (index >= 1)),
        "next": (offset == 1, real & (index < length - 1)),
        "self": (offset == 0, real),
        "same word": (same & (offset != 0), real & (pieces >= 2)),
        "[CLS]": (cls_keys, real),
        "[SEP]": (sep_keys, real),
    }


@dataclass
class HeadRoles:
    """Mean attention to each role's targets, per layer and head.

    Attributes:
        mean: role → ``(L, H)`` mean attention weight over the measured queries.
        uniform: role → the same under uniform attention over each sentence.
        queries: role → how many query tokens were measured.
        sentences: sentences measured (``skipped``: longer than the model's positions).
    """

    mean: dict[str, Tensor]
    uniform: dict[str, float]
    queries: dict[str, int]
    sentences: int
    skipped: int = 0

    def top(self, role: str, k: int = 3) -> list[tuple[int, int, float]]:
        """The ``k`` heads that attend most to ``role``: ``(layer, head, mean weight)``."""
        values = self.mean[role]
        order = values.flatten().argsort(descending=True)[:k]
        heads = values.shape[1]
        return [(int(i) // heads, int(i) % heads, float(values.flatten()[i])) for i in order]


def measure_head_roles(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    *,
    max_len: int | None = None,
    batch_size: int = 32,
) -> HeadRoles:
    """Run an encoder over ``sentences`` (right-padded batches of ``batch_size``) and
    average, per layer and head, the attention each role gets (see the module docstring).

    Args:
        model: an attnkit encoder: ``model(tokens, padding_mask=..., need_weights=True)``
            returns ``attentions.encoder``, one ``(B, H, T, T)`` map per layer.
        tokenizer: gives ``encode_words(text)`` → (ids, word index per token), and
            ``cls_id`` / ``sep_id`` (e.g. an imported
            :class:`~attnkit.data.hf_tokenizer.HFTokenizer`).
        sentences: the texts.
        max_len: skip sentences longer than this many tokens (the model's positions).
    """
    encoded = [tokenizer.encode_words(text) for text in sentences]
    kept = [item for item in encoded if max_len is None or len(item[0]) <= max_len]
    if not kept:
        raise ValueError("no sentence to measure: sentences= is empty or every one is too long")
    sums: dict[str, Tensor] = {}
    uniform_sums = dict.fromkeys(ROLES, 0.0)
    counts = dict.fromkeys(ROLES, 0)
    with torch.no_grad():
        for start in range(0, len(kept), batch_size):
            batch = kept[start : start + batch_size]
            width = max(len(ids) for ids, _ in batch)
            tokens = torch.zeros(len(batch), width, dtype=torch.long)  # (B, T), 0-padded
            padding_mask = torch.zeros(len(batch), width, dtype=torch.bool)  # (B, T)
            for row, (ids, _) in enumerate(batch):
                tokens[row, : len(ids)] = torch.tensor(ids)
                padding_mask[row, : len(ids)] = True
            out = model(tokens, padding_mask=padding_mask, need_weights=True)
            maps = torch.stack(out.attentions.encoder).float()  # (L, B, H, T, T)
            for row, (ids, word_ids) in enumerate(batch):
                n = len(ids)
                weights = maps[:, row, :, :n, :n]  # (L, H, n, n): the real tokens only
                masks = role_masks(
                    word_ids,
                    cls=[i == tokenizer.cls_id for i in ids],
                    sep=[i == tokenizer.sep_id for i in ids],
                )
                for role, (targets, queries) in masks.items():
                    picked = (weights * targets).sum(-1)[..., queries]  # (L, H, Q)
                    sums[role] = sums.get(role, 0) + picked.sum(-1)
                    uniform_sums[role] += float(targets[queries].sum()) / n
                    counts[role] += int(queries.sum())
    return HeadRoles(
        mean={role: sums[role] / max(counts[role], 1) for role in ROLES},
        uniform={role: uniform_sums[role] / max(counts[role], 1) for role in ROLES},
        queries=counts,
        sentences=len(kept),
        skipped=len(encoded) - len(kept),
    )


def plot_head_roles(roles: HeadRoles, path: str | Path, *, title: str | None = None) -> Path:
    """One panel per role: the ``(layer, head)`` grid of mean attention, each cell
    written out, the uniform baseline in the panel's title.

    Returns:
        The saved figure's path (``.png``, ``.svg`` or ``.pdf``).
    """
    names = list(roles.mean)
    num_layers, num_heads = roles.mean[names[0]].shape
    cols = 3
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(cols * (0.42 * num_heads + 1.2), rows * (0.42 * num_layers + 1.1)))
    for index, role in enumerate(names):
        ax = fig.add_subplot(rows, cols, index + 1)
        values = roles.mean[role].numpy()
        ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        for (layer, head), value in np.ndenumerate(values):
            color = "white" if value < 0.6 else "black"
            ax.text(
                head,
                layer,
                f"{value:.2f}".removeprefix("0"),  # ".42": narrow enough for a cell
                ha="center",
                va="center",
                color=color,
                fontsize=6,
            )
        ax.set_title(f"to {role} (uniform {roles.uniform[role]:.2f})", fontsize=9)
        ax.set_xticks(range(num_heads))
        ax.set_yticks(range(num_layers))
        ax.tick_params(labelsize=7)
        ax.set_xlabel("head", fontsize=8)
        ax.set_ylabel("layer", fontsize=8)
    fig.suptitle(title or f"mean attention per head over {roles.sentences} sentences")
    fig.tight_layout()
    return save_figure(fig, path)
