"""Runs of single-stack text models: the decoder-only language model (generate, evaluate,
draw its self-attention) and the BERT-style masked-language-model encoder (draw its
self-attention; it is not trained from a recipe yet, so there is nothing to evaluate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from attnkit.data.batching import LMBatches
from attnkit.data.text import read_text_file
from attnkit.decoding.sampling import stream
from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.families.base import check_layer_head, encode_text, token_label, tokenizer_summary
from attnkit.training.rundir import LoadedRun
from attnkit.training.tasks import load_texts
from attnkit.viz.plots import plot_attention, plot_attention_heads

__all__ = ["LanguageModel", "MaskedLanguageModel", "plot_self_attention"]


class LanguageModel:
    """A decoder-only language model (``model.kind = "decoder_lm"``)."""

    noun = "language model"

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        return {"tokenizer": tokenizer_summary(run.tokenizer)}

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
    ) -> Iterator[str]:
        """Continue ``prompt``; see :func:`attnkit.api.generate`."""
        ids = encode_text(run, prompt, parameter="prompt")
        model_config = run.config.model
        device = next(run.model.parameters()).device
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(seed)
        max_len = model_config.max_len if model_config.positional == "learned" else None
        if max_len is not None and not sliding_window and len(ids) + max_new_tokens > max_len:
            raise ValueError(
                f"prompt ({len(ids)} tokens) + max_new_tokens={max_new_tokens} exceeds "
                f"model.max_len={max_len} (learned positions): ask for fewer tokens, or pass "
                f"sliding_window=True to continue from the last {max_len // 2} tokens"
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
        self,
        run: LoadedRun,
        *,
        data: str | Path | None,
        split: str,
        beam: int,
        length_penalty: float,
        int8: bool,
    ) -> dict[str, Any]:
        """Loss, perplexity and bits per character on the validation text (every block
        once) or the text file ``data``; the text has no test split, so ``split`` and the
        decoding settings do not apply."""
        if data is None:
            _, text = load_texts(run.config.data)
            source = "validation split"
        else:
            text, source = read_text_file(data), str(data)
        tokens = torch.tensor(run.tokenizer.encode(text), dtype=torch.long)
        batches = LMBatches(tokens, run.config.data.block_size)
        metrics = evaluate_language_model(run.model, batches, num_chars=len(text))
        return {"data": source, **metrics, "chars": len(text)}

    def plot_text_attention(
        self, run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
    ) -> Path:
        """Causal self-attention over ``text``; see :func:`attnkit.api.plot_run_attention`."""
        return plot_self_attention(run, text, out, stack="decoder", layer=layer, head=head)


class MaskedLanguageModel:
    """A BERT-style encoder trained to fill masked tokens (``model.kind = "encoder"``)."""

    noun = "masked-language-model encoder"

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        return {"tokenizer": tokenizer_summary(run.tokenizer)}

    def plot_text_attention(
        self, run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
    ) -> Path:
        """Bidirectional self-attention over ``text``, drawn like a language model's."""
        return plot_self_attention(run, text, out, stack="encoder", layer=layer, head=head)


def plot_self_attention(
    run: LoadedRun,
    text: str,
    out: Path,
    *,
    stack: str,
    layer: int | None,
    head: int | None,
) -> Path:
    """The self-attention of a single-stack text model over ``text``, tokens on both axes.

    Without ``layer``/``head``: a grid with every layer and head; with both: one map;
    with only ``layer``: that layer's heads; with only ``head``: that head in every
    layer. ``stack`` names the maps the model returns (``"decoder"`` or ``"encoder"``).
    """
    ids = encode_text(run, text, parameter="text")
    config = run.config.model
    if config.positional == "learned" and len(ids) > config.max_len:
        raise ValueError(
            f"text is {len(ids)} tokens but model.max_len={config.max_len} (learned "
            f"positions): use a shorter text"
        )
    with torch.no_grad():
        out_maps = run.model(torch.tensor([ids]), need_weights=True).attentions
    maps = out_maps.stacked(stack)[:, 0]  # (L, H, T, T)
    num_layers, num_heads = maps.shape[:2]
    check_layer_head(layer, head, num_layers, num_heads)
    labels = [token_label(run.tokenizer.decode([i])) for i in ids]
    title = f"self-attention of {run.run_dir.root.name}"
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
