"""Runs of translators — the Transformer encoder–decoder and the recurrent one: translate,
score with BLEU and chrF, draw where each output word looked."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.data.parallel import read_parallel_file
from attnkit.decoding.bounds import check_beam
from attnkit.evaluation.translation import corpus_scores, translate_sentences
from attnkit.families.base import (
    Progress,
    check_layer_head,
    decoding_cost,
    in_run_terms,
    token_label,
    tokenizer_summary,
    write_outputs,
)
from attnkit.training.rundir import LoadedRun
from attnkit.training.tasks import load_pairs
from attnkit.viz.plots import plot_attention, plot_attention_heads

__all__ = ["Translator"]


class Translator:
    """An encoder–decoder translator (``model.kind = "seq2seq"`` or ``"rnn_seq2seq"``)."""

    noun = "translator"

    def describe(self, run: LoadedRun) -> dict[str, Any]:
        described = {"tokenizer": tokenizer_summary(run.tokenizer)}
        if run.source_tokenizer is not run.tokenizer:  # separate vocabularies
            described["source_tokenizer"] = tokenizer_summary(run.source_tokenizer)
        return described

    def translate(
        self,
        run: LoadedRun,
        sentences: Sequence[str],
        *,
        beam: int,
        length_penalty: float,
        n_best: int,
        max_new_tokens: int | None,
    ) -> list[list[str]]:
        """The ``n_best`` best translations of each sentence; see :func:`attnkit.api.translate`."""
        return self._translate(
            run,
            sentences,
            beam=beam,
            length_penalty=length_penalty,
            n_best=n_best,
            max_new_tokens=max_new_tokens,
        )

    def _translate(
        self,
        run: LoadedRun,
        sentences: Sequence[str],
        *,
        beam: int,
        length_penalty: float,
        n_best: int,
        max_new_tokens: int | None,
        progress: Progress | None = None,
    ) -> list[list[str]]:
        """:meth:`translate`, telling ``progress`` how many sentences are done.

        A sentence the source vocabulary cannot read (an unknown character) translates
        to nothing, and one warning names every such line; when no line can be read,
        that is an error.
        """
        check_beam(beam, n_best, run.tokenizer.vocab_size)
        if max_new_tokens is not None and (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens={max_new_tokens!r}: pass a whole number >= 1")
        config = run.config.model
        # Learned positions end at max_len: outputs may not run past it, inputs are cut.
        learned = config.positional == "learned"
        if learned:
            max_new_tokens = min(max_new_tokens or config.max_len, config.max_len)
        unreadable: dict[int, str] = {}
        results = translate_sentences(
            run.model,
            sentences,
            source_tokenizer=run.source_tokenizer,
            target_tokenizer=run.tokenizer,
            beam=beam,
            length_penalty=length_penalty,
            n_best=n_best,
            max_len=max_new_tokens,
            source_limit=config.max_len if learned else None,
            cost=decoding_cost(run),
            on_unreadable=lambda index, error: unreadable.setdefault(index, str(error)),
            progress=progress,
        )
        if unreadable:
            _report_unreadable(unreadable, sentences)
        return results

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
        """BLEU and chrF of the ``split`` or of the TSV file ``data``, decoded greedily or
        with a ``beam``; sources, references and hypotheses go to the folder ``out``.

        Lines of ``data`` that are not a pair are dropped and counted, with a warning.
        Character-level runs (a ``char`` target tokenizer) get character-level BLEU
        (sacreBLEU's ``tokenize="char"``): word BLEU of an unspaced output is 0.
        """
        check_beam(beam, 1, run.tokenizer.vocab_size)  # before reading any data
        dropped = {}
        if data is not None:
            pairs, stats = read_parallel_file(data, max_chars=run.config.data.max_chars)
            name = Path(data).stem
            dropped = {reason: n for reason, n in stats.items() if reason != "kept" and n}
            if dropped:
                total = stats["kept"] + sum(dropped.values())
                reasons = ", ".join(
                    f"{n} {reason.replace('_', ' ')}" for reason, n in dropped.items()
                )
                warnings.warn(
                    f"{data}: {sum(dropped.values())} of {total} lines dropped ({reasons}); "
                    f"scoring the {stats['kept']} source<TAB>target pairs",
                    stacklevel=2,
                )
        else:
            _, valid, test, _ = load_pairs(run.config.data)
            pairs, name = (valid if split == "valid" else test), split
            if not pairs:
                raise ValueError(
                    f"this run has no {split} data: set data.{split} in its recipe, or pass "
                    f"data= (a TSV file of source/target pairs)"
                )
        sources, references = [s for s, _ in pairs], [t for _, t in pairs]
        start = time.perf_counter()
        translated = self._translate(
            run,
            sources,
            beam=beam,
            length_penalty=length_penalty,
            n_best=1,
            max_new_tokens=None,
            progress=progress,
        )
        hypotheses = [best[0] for best in translated]
        seconds = time.perf_counter() - start
        stem = f"{name}.beam{beam}" + (".int8" if int8 else "")
        written = write_outputs(
            out,
            {
                f"{stem}.{suffix}": "\n".join(lines) + "\n"
                for suffix, lines in (("src", sources), ("ref", references), ("hyp", hypotheses))
            },
        )
        tokenize = "char" if run.tokenizer.kind == "char" else "13a"
        return {
            "data": str(data) if data is not None else f"{split} split",
            **({"dropped_lines": dropped} if dropped else {}),
            "beam": beam,
            **corpus_scores(hypotheses, references, tokenize=tokenize),
            "seconds": round(seconds, 1),
            **({"hypotheses": written[f"{stem}.hyp"]} if written else {}),
        }

    def plot_text_attention(
        self, run: LoadedRun, text: str, out: Path, *, layer: int | None, head: int | None
    ) -> Path:
        """``text`` is translated (greedy) and ``out`` shows where each output word looked:
        the cross-attention of the last layer (or ``layer``), averaged over heads (or
        ``head``). Beside it: ``*-cross.png`` (every layer and head), ``*-encoder.png``
        and ``*-decoder.png`` (self-attention grids, when the model has them)."""
        if not text.strip():
            raise ValueError("text is empty: give a sentence to translate")
        source_tok, target_tok = run.source_tokenizer, run.tokenizer
        translation = self.translate(
            run, [text], beam=1, length_penalty=0.6, n_best=1, max_new_tokens=None
        )[0][0]
        # What the model read during training (TranslationTask.collate): source + EOS in,
        # BOS + translation out.
        src_ids = [*source_tok.encode(text), source_tok.eos_id]
        tgt_ids = [target_tok.bos_id, *target_tok.encode(translation)]
        with torch.no_grad():
            maps = run.model(
                torch.tensor([src_ids]), torch.tensor([tgt_ids]), need_weights=True
            ).attentions
        if not maps.cross:
            raise ValueError(
                f"{run.run_dir.root} has no encoder–decoder attention to draw: its decoder "
                f"reads only the encoder's final state (model.attention='none')"
            )
        cross = maps.stacked("cross")[:, 0]  # (L, H, T, S)
        num_layers, num_heads = cross.shape[:2]
        check_layer_head(layer, head, num_layers, num_heads)
        source = [token_label(source_tok.decode([i])) for i in src_ids[:-1]] + ["<eos>"]
        produced = [token_label(target_tok.decode([i])) for i in tgt_ids[1:]] + ["<eos>"]
        inputs = ["<bos>", *produced[:-1]]
        chosen = num_layers - 1 if layer is None else layer
        picture = cross[chosen].mean(0) if head is None else cross[chosen, head]  # (T, S)
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


def _report_unreadable(unreadable: dict[int, str], sentences: Sequence[str]) -> None:
    """Warn once about the lines that could not be read (numbered from 1), or raise when
    no line could."""
    lines = sorted(unreadable)
    first = in_run_terms(unreadable[lines[0]])
    if len(unreadable) == sum(1 for s in sentences if s.strip()):
        where = f"line {lines[0] + 1}: " if len(sentences) > 1 else ""
        raise ValueError(f"{where}{first}")
    shown = ", ".join(str(i + 1) for i in lines[:20]) + (", ..." if len(lines) > 20 else "")
    warnings.warn(
        f"{len(lines)} of {len(sentences)} lines not translated (left empty): line(s) "
        f"{shown}; line {lines[0] + 1}: {first}",
        stacklevel=3,
    )
