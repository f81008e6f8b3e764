"""Translate a list of sentences with a trained encoder–decoder, and score translations
with sacreBLEU (BLEU and chrF, with their signatures)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from attnkit.decoding.beam import beam_search
from attnkit.decoding.bounds import RowCost, fit_batch
from attnkit.decoding.greedy import greedy_translate
from attnkit.protocols import Tokenizer

__all__ = ["corpus_scores", "translate_sentences"]


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "13a"
) -> dict[str, Any]:
    """Corpus BLEU and chrF of ``hypotheses`` against one reference each (sacreBLEU's
    defaults: exponential smoothing), with the signatures that make the numbers
    reproducible, and the share of exact matches.

    ``tokenize`` is how BLEU cuts text into units: ``"13a"`` (words; sacreBLEU's
    default) or ``"char"`` (characters, for outputs without spaces between words: their
    word BLEU is 0 however good they are). ``bleu_tokenize`` in the result says which.
    """
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu = sacrebleu.metrics.BLEU(tokenize=tokenize)
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": round(bleu_score.score, 2),
        "bleu_tokenize": tokenize,
        "chrf": round(chrf_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "exact_match": round(
            sum(h == r for h, r in zip(hypotheses, references, strict=True))
            / max(len(hypotheses), 1),
            4,
        ),
        "sentences": len(hypotheses),
    }


@torch.no_grad()
def translate_sentences(
    model: nn.Module,
    sentences: Sequence[str],
    *,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    beam: int = 1,
    length_penalty: float = 0.6,
    n_best: int = 1,
    max_len: int | None = None,
    batch_size: int = 32,
    source_limit: int | None = None,
    cost: RowCost | None = None,
    on_unreadable: Callable[[int, ValueError], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[str]]:
    """Translate ``sentences``; returns the ``n_best`` translations of each, best first.

    Sentences are decoded in batches of similar length (then put back in order); an
    empty sentence translates to an empty one. Decoding stops at EOS or after
    ``max_len`` tokens (default: 1.5 × source length + 10). Greedy when ``beam == 1``
    and ``n_best == 1``, else beam search with the GNMT length penalty.

    Args:
        source_limit: a model with learned positions cannot read more tokens; longer
            sentences are cut to it, with a warning.
        cost: what one decoder row holds (:class:`~attnkit.decoding.bounds.RowCost`):
            given, a batch is made smaller when its beams would not fit in memory, and
            a beam or ``max_len`` too large for even one sentence is an error.
        on_unreadable: given, a sentence the source tokenizer cannot read (an unknown
            character) is reported to it with its index and translates to ``""``;
            otherwise the tokenizer's ``ValueError`` ends the call.
        progress: told ``(sentences done, total)`` after each batch.
    """
    model.eval()
    device = next(model.parameters()).device
    # The special ids come from the vocabularies (translation puts <pad> <bos> <eos> first).
    src_pad, src_eos = source_tokenizer.pad_id, source_tokenizer.eos_id
    bos, eos, pad = target_tokenizer.bos_id, target_tokenizer.eos_id, target_tokenizer.pad_id
    encoded = []
    for index, sentence in enumerate(sentences):
        try:
            ids = source_tokenizer.encode(sentence) if sentence.strip() else []
        except ValueError as error:
            if on_unreadable is None:
                raise
            on_unreadable(index, error)
            ids = []
        if source_limit is not None and len(ids) + 1 > source_limit:
            warnings.warn(
                f"a source sentence of {len(ids)} tokens was cut to {source_limit - 1}: the "
                f"model's learned positions end there",
                stacklevel=2,
            )
            ids = ids[: source_limit - 1]
        encoded.append(ids)
    results: list[list[str]] = [[""] * n_best for _ in sentences]
    order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
    if cost is not None and order:
        # Sized for the longest sentence: each batch is no longer than it.
        longest = max_len or int(1.5 * (len(encoded[order[-1]]) + 1)) + 10
        batch_size = fit_batch(batch_size, beam=beam, length=longest, cost=cost)
    done = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in rows) + 1
        src = torch.full((len(rows), width), src_pad, dtype=torch.long)
        for r, i in enumerate(rows):
            src[r, : len(encoded[i]) + 1] = torch.tensor([*encoded[i], src_eos])
        src = src.to(device)
        limit = max_len or int(1.5 * width) + 10
        if beam == 1 and n_best == 1:
            output = greedy_translate(model, src, bos_id=bos, eos_id=eos, max_len=limit, pad_id=pad)
            hypotheses = [[_strip(row.tolist(), eos)] for row in output]
        else:
            result = beam_search(
                model,
                src,
                beam_size=beam,
                max_len=limit,
                bos_id=bos,
                eos_id=eos,
                pad_id=pad,
                length_penalty=length_penalty,
                n_best=n_best,
            )
            hypotheses = [[_strip(h, eos) for h in sentence] for sentence in result.tokens]
        for r, i in enumerate(rows):
            results[i] = [target_tokenizer.decode(h) for h in hypotheses[r]]
        done += len(rows)
        if progress is not None:
            progress(done, len(order))
    return results


def _strip(ids: list[int], eos_id: int) -> list[int]:
    """Token ids up to the first EOS."""
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
