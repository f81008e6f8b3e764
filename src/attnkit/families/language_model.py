"""Runs of single-stack text models: the decoder-only language model (generate, evaluate,
draw its self-attention) and the BERT-style masked-language-model encoder (fill masks,
evaluate, draw its self-attention)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.data.batching import LMBatches
from attnkit.data.text import read_text_file
from attnkit.data.tokenizers import MASK
from attnkit.decoding.bounds import fit_batch
from attnkit.decoding.logits import check_sampling_args
from attnkit.decoding.sampling import stream
from attnkit.decoding.window import windowed_text
from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.evaluation.masked_lm import EVAL_MASK_SEED, evaluate_masked_lm, unigram_baselines
from attnkit.families.base import (
    FilledMask,
    Progress,
    check_layer_head,
    decoding_cost,
    encode_text,
    in_run_terms,
    token_label,
    tokenizer_summary,
)
from attnkit.training.rundir import LoadedRun
from attnkit.training.tasks import MaskedLanguageModelTask, load_texts
from attnkit.viz.plots import plot_attention, plot_attention_heads

__all__ = ["LanguageModel", "MaskedLanguageModel", "plot_self_attention", "self_attention_maps"]


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
        """Continue ``prompt``; see :func:`attnkit.api.generate`. Everything is checked
        here, before the first token: a mistake never ends a half-printed text."""
        check_sampling_args(temperature, top_k, top_p)
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 0
        ):
            raise ValueError(f"max_new_tokens={max_new_tokens!r}: pass a whole number >= 0")
        ids = encode_text(run, prompt, parameter="prompt")
        model_config = run.config.model
        max_len = model_config.max_len if model_config.positional == "learned" else None
        if max_len is not None and not sliding_window and len(ids) + max_new_tokens > max_len:
            raise ValueError(
                f"prompt ({len(ids)} tokens) + max_new_tokens={max_new_tokens} exceeds "
                f"model.max_len={max_len} (learned positions): ask for fewer tokens, or pass "
                f"sliding_window=True to continue from the last {max_len // 2} tokens"
            )
        # The key/value cache holds at most max_len tokens with learned positions (the
        # window slides); with other positions it holds the prompt and every new token.
        held = len(ids) + max_new_tokens
        fit_batch(
            1,
            beam=1,
            length=held if max_len is None else min(held, max_len),
            cost=decoding_cost(run),
            length_offset=len(ids),
        )
        return self._stream(
            run,
            ids,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            max_len=max_len,
        )

    def _stream(
        self,
        run: LoadedRun,
        ids: list[int],
        *,
        max_new_tokens: int,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        seed: int | None,
        max_len: int | None,
    ) -> Iterator[str]:
        """The text :meth:`generate` yields, piece by piece (arguments checked); with
        ``max_len``, each chunk starts afresh from the last ``max_len // 2`` tokens."""
        device = next(run.model.parameters()).device
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(seed)

        def produce(context: list[int], chunk: int) -> Iterator[int]:
            tokens = stream(
                run.model,
                torch.tensor([context], device=device),
                max_new_tokens=chunk,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
                max_len=max_len,
            )
            return (int(token[0]) for token in tokens)

        yield from windowed_text(
            ids,
            max_new_tokens=max_new_tokens,
            max_len=max_len,
            produce=produce,
            decode=run.tokenizer.decode,
        )

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
        """Loss, perplexity and bits per character on held-out text (every block once):
        the validation text, the recipe's test text (``data.test``) or the text file
        ``data``. A run without test text refuses ``split="test"`` rather than score
        another split. Decoding settings do not apply; nothing is written to ``out``."""
        if data is not None:
            text, source = read_text_file(data), str(data)
        elif split == "test":
            if not run.config.data.test:
                raise ValueError(
                    "split='test': this run has no test text (its recipe sets no data.test; "
                    "the text it holds out is the validation split): pass split='valid', or "
                    "data= a held-out text file"
                )
            test = run.config.data.test
            text, source = read_text_file(test), f"test split ({test})"
        else:
            _, text = load_texts(run.config.data)
            source = "validation split"
        try:
            ids = run.tokenizer.encode(text)
        except ValueError as exc:
            raise ValueError(f"{source}: {in_run_terms(str(exc))}") from None
        batches = LMBatches(torch.tensor(ids, dtype=torch.long), run.config.data.block_size)
        metrics = evaluate_language_model(
            run.model, batches, num_chars=len(text), progress=progress
        )
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

    def embed(
        self, run: LoadedRun, texts: Sequence[str], *, normalize: bool, batch_size: int
    ) -> torch.Tensor:
        """One vector per text: the encoder's final states pooled as ``model.pooling``
        says (padded batches of ``batch_size``); see :func:`attnkit.api.embed`."""
        config = run.config.model
        rows = []
        for index, text in enumerate(texts):
            ids = encode_text(run, text, parameter=f"texts[{index}]")
            if config.positional == "learned" and len(ids) > config.max_len:
                raise ValueError(
                    f"texts[{index}] is {len(ids)} tokens but model.max_len={config.max_len} "
                    f"(learned positions): shorten it"
                )
            rows.append(ids)
        device = next(run.model.parameters()).device
        pad_id = 0 if config.pad_id is None else config.pad_id
        vectors = []
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                width = max(len(ids) for ids in batch)
                tokens = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
                padding_mask = torch.zeros(len(batch), width, dtype=torch.bool)  # (B, T)
                for row, ids in enumerate(batch):
                    tokens[row, : len(ids)] = torch.tensor(ids)
                    padding_mask[row, : len(ids)] = True
                vectors.append(
                    run.model.sentence_embedding(
                        tokens.to(device), padding_mask=padding_mask.to(device), normalize=normalize
                    )
                )  # (B, D)
        return torch.cat(vectors).cpu()  # (N, D)

    def fill_mask(self, run: LoadedRun, text: str, *, top_k: int) -> list[FilledMask]:
        """The ``top_k`` likeliest tokens for each ``[MASK]`` of ``text``; see
        :func:`attnkit.api.fill_mask`."""
        mask_id = getattr(run.tokenizer, "mask_id", None)
        if mask_id is None:
            raise ValueError(
                f"the tokenizer of {run.run_dir.root} has no {MASK} token, so this model "
                f"has nothing to fill"
            )
        ids = encode_text(run, text, parameter="text")
        if mask_id not in ids:
            raise ValueError(
                f"text={_shorten(text)!r} has no {MASK}: write {MASK} where a word is "
                f"missing, e.g. 'the {MASK} of the Lord'"
            )
        config = run.config.model
        if config.positional == "learned" and len(ids) > config.max_len:
            raise ValueError(
                f"text is {len(ids)} tokens but model.max_len={config.max_len} (learned "
                f"positions): use a shorter text"
            )
        device = next(run.model.parameters()).device
        top_k = min(top_k, run.tokenizer.vocab_size)
        where, best, probs = run.model.fill_mask(torch.tensor([ids], device=device), top_k=top_k)
        decode = run.tokenizer.decode
        return [
            FilledMask(
                position=int(position),
                candidates=[(decode([int(i)]), float(p)) for i, p in zip(row, chance, strict=True)],
            )
            for (_, position), row, chance in zip(where, best, probs, strict=True)
        ]

    def evaluate(
        self,
        run: LoadedRun,
        *,
        data: str | Path | None,
        split: str,
        beam: int,
        length_penalty: float,
        int8: bool,
        out: Path | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Masked-token accuracy (top-1, top-5) and perplexity on held-out text, with the
        two context-free baselines at the same positions (the most frequent training
        token; the unigram model); see :mod:`attnkit.evaluation.masked_lm`.

        The text is the ``split`` (``valid``; ``test`` when the corpus or the recipe has
        one) or the text file ``data``, hidden with the run's ``data.mask_prob`` and a
        fixed seed, so the number is reproducible. Decoding settings do not apply;
        nothing is written to ``out``.
        """
        config = run.config
        task = MaskedLanguageModelTask(config.data, seed=config.train.seed, tokenizer=run.tokenizer)
        if data is not None:
            text, source = read_text_file(data), str(data)
        elif split not in task.texts:
            raise ValueError(
                f"split={split!r}: this run's text has no {split} split (its corpus holds "
                f"none out and its recipe sets no data.{split}): pass split='valid', or "
                f"data= a held-out text file"
            )
        else:
            text, source = task.texts[split], f"{'validation' if split == 'valid' else split} split"
        try:
            inputs, labels = task.held_out(text)
        except ValueError as exc:
            raise ValueError(f"{source}: {in_run_terms(str(exc))}") from None
        metrics = evaluate_masked_lm(run.model, inputs, labels, progress=progress)
        baselines = unigram_baselines(task.unigram_counts(), labels, table=task.table)
        frequent = baselines["most_frequent"]
        frequent["token"] = run.tokenizer.decode([frequent.pop("token_id")])
        return {
            "data": source,
            **metrics,
            "mask_prob": config.data.mask_prob,
            "whole_word_mask": config.data.whole_word_mask,
            "mask_seed": EVAL_MASK_SEED,
            "baselines": {"most_frequent_token": frequent, "unigram": baselines["unigram"]},
        }

    def plot_text_attention(
        self, run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
    ) -> Path:
        """Bidirectional self-attention over ``text``, drawn like a language model's."""
        return plot_self_attention(run, text, out, stack="encoder", layer=layer, head=head)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def self_attention_maps(
    run: LoadedRun, text: str, *, stack: str
) -> tuple[list[int], list[str], torch.Tensor]:
    """The raw self-attention weights of a single-stack text model over ``text``: its
    token ids, a label per token and every layer's and head's map (``stack`` names the
    maps the model returns: ``"decoder"`` or ``"encoder"``).

    Shape:
        ``T`` tokens → maps ``(L, H, T, T)``; row ``t`` is where token ``t`` looked.
    """
    ids = encode_text(run, text, parameter="text")
    config = run.config.model
    if config.positional == "learned" and len(ids) > config.max_len:
        raise ValueError(
            f"text is {len(ids)} tokens but model.max_len={config.max_len} (learned "
            f"positions): use a shorter text"
        )
    device = next(run.model.parameters()).device
    with torch.no_grad():
        out_maps = run.model(torch.tensor([ids], device=device), need_weights=True).attentions
    maps = out_maps.stacked(stack)[:, 0].cpu()  # (L, H, T, T)
    # An imported tokenizer names its pieces as the model saw them ("[CLS]", "##ing"),
    # which decoding would drop or glue to their word.
    piece = getattr(run.tokenizer, "token", None)
    labels = [token_label(piece(i) if piece else run.tokenizer.decode([i])) for i in ids]
    return ids, labels, maps


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
    _, labels, maps = self_attention_maps(run, text, stack=stack)
    num_layers, num_heads = maps.shape[:2]
    check_layer_head(layer, head, num_layers, num_heads)
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
