"""Beam search for encoder–decoder models, batched over sentences and beams.

Every sentence keeps ``K = beam_size`` hypotheses; all ``B·K`` of them run through the
decoder as one batch. The source is encoded once. A model that says
``accepts_shared_source`` (the Transformers) keeps one encoding per sentence, which its
``K`` beams share, so cross-attention reads each source once per step instead of ``K``
times; for other models its rows are repeated ``K`` times (``encoded.reorder``). One
decoder cache follows the hypotheses (``cache.reorder``, or ``cache.reorder_beams``,
which leaves the cross-attention keys where they are) as they are extended, reshuffled
and pruned. Sentences that are done leave the batch.

One step (fairseq's rules), for each sentence with active hypotheses ``h_1 … h_K``:

1. Extend every ``h_k`` by every token ``w``: raw score ``s_k + log p(w | h_k, src)``.
   ``pad_id`` is never generated (unless it equals ``eos_id``), nor EOS before
   ``min_len`` tokens. Banned tokens get ``-inf`` without renormalising, so scores stay
   the model's own log-probabilities.
2. Rank the candidates by raw score. Those among the ``K`` best that end in EOS are
   *finished*; the ``K`` best that do not end in EOS are the new active hypotheses.
3. At ``max_len`` the active hypotheses count as finished too, with their current score.

Finished hypotheses are ranked by the GNMT normalised score (Wu et al. 2016)
``log P(Y) / lp(|Y|)`` with ``lp(n) = ((5 + n) / 6) ** α``, where ``|Y|`` counts the
generated tokens *including* EOS (a cut-off hypothesis has ``|Y| = max_len``).

Stopping: a sentence is done when it holds ``n_best`` finished hypotheses and no active
one can still beat the worst of them. The bound: an active hypothesis with raw score
``s`` ends, if ever, at some length ``n <= max_len`` with raw score ``s' <= s <= 0``
(log-probabilities are ``<= 0``, so scores only fall). For ``α >= 0``, ``lp`` grows with
``n``, so ``s' / lp(n) <= s / lp(n) <= s / lp(max_len)``: dividing a non-positive
number by the largest possible penalty gives the best it can reach. With ``α = 0`` the
bound is ``s`` itself.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from torch import Tensor

from attnkit.decoding.translate import (
    check_nonempty_rows,
    check_positive_int,
    check_source,
    check_token_id,
    encode_source,
)
from attnkit.nn.fast.threads import cpu_decoding
from attnkit.protocols import Seq2SeqStep

__all__ = ["BeamResult", "beam_search"]


@dataclass
class BeamResult:
    """The ``n_best`` hypotheses of every sentence, best first.

    Attributes:
        tokens: ``tokens[b][i]`` is hypothesis ``i`` of sentence ``b`` as token ids,
            without BOS and EOS. One that ended with EOS has at most ``max_len - 1``
            tokens; one of ``max_len`` tokens was cut off there.
        scores: normalised scores ``log P(Y) / lp(|Y|)`` (what the ranking uses).
        log_probs: summed log-probabilities ``log P(Y)`` (EOS included when produced).

    A slot that could not be filled (a vocabulary too small for ``n_best`` distinct
    hypotheses) holds an empty token list and score ``-inf``.

    Shape:
        scores, log_probs ``(B, n_best)`` float.
    """

    tokens: list[list[list[int]]]
    scores: Tensor
    log_probs: Tensor


@dataclass
class _Hypothesis:
    """A finished hypothesis: normalised score, raw log-probability, tokens."""

    score: float
    log_prob: float
    tokens: list[int]


def _length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ``lp(n) = ((5 + n) / 6) ** α``."""
    return ((5 + length) / 6) ** alpha


def _keep(finished: list[_Hypothesis], hypothesis: _Hypothesis, n_best: int) -> None:
    """Insert into a best-first list of at most ``n_best``; on ties the earlier one stays
    ahead (a later hypothesis must be strictly better to displace it)."""
    negated = [-h.score for h in finished]
    finished.insert(bisect.bisect_right(negated, -hypothesis.score), hypothesis)
    del finished[n_best:]


@torch.no_grad()
def beam_search(
    model: Seq2SeqStep,
    src: Tensor,
    *,
    beam_size: int = 4,
    max_len: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    length_penalty: float = 0.6,
    n_best: int = 1,
    src_padding_mask: Tensor | None = None,
    min_len: int = 0,
) -> BeamResult:
    """Find high-probability translations, keeping ``beam_size`` hypotheses per sentence.

    See the module docstring for the exact rules (candidate selection, GNMT length
    penalty, the stopping bound).

    Args:
        model: a :class:`~attnkit.protocols.Seq2SeqStep` in eval mode.
        src: source token ids, right-padded with ``pad_id`` when lengths differ.
        beam_size: hypotheses kept per sentence; ``1`` with ``length_penalty=0`` is greedy
            decoding (that never picks ``pad_id``).
        max_len: most tokens to generate, EOS included.
        bos_id, eos_id: first decoder input; end of a hypothesis.
        pad_id: never generated (unless equal to ``eos_id``); source rows that are all
            ``pad_id`` (or all ``False`` in ``src_padding_mask``) are rejected.
        length_penalty: GNMT ``α >= 0``; ``0`` ranks by raw log-probability (favours
            short outputs), larger values favour longer ones.
        n_best: hypotheses returned per sentence, ``1 <= n_best <= beam_size``.
        src_padding_mask: ``True`` = real source token; passed to
            ``model.encode(src, src_padding_mask=...)`` when given.
        min_len: EOS is banned until a hypothesis has this many tokens (``< max_len``).

    Shape:
        src ``(B, S)`` long; src_padding_mask ``(B, S)`` bool →
        :class:`BeamResult` with ``scores`` ``(B, n_best)``.

    Example:
        >>> result = beam_search(model, src, beam_size=5, max_len=50, bos_id=1, eos_id=2,
        ...                      pad_id=0, n_best=2)  # doctest: +SKIP
        >>> result.tokens[0][0], result.scores[0, 0]  # doctest: +SKIP
    """
    _check_beam_args(beam_size, n_best, max_len, min_len, length_penalty)
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id), ("pad_id", pad_id)):
        check_token_id(name, value)
    check_source(src, src_padding_mask)
    if src_padding_mask is None:
        check_nonempty_rows(src != pad_id)

    alpha, k = float(length_penalty), beam_size
    device = src.device
    best_reachable_divisor = _length_penalty(max_len, alpha)  # lp(max_len), see the bound
    finished: list[list[_Hypothesis]] = [[] for _ in range(src.shape[0])]

    # Rows of the decoder batch: sentence i (of those still searching) owns rows i·K … i·K+K-1.
    sentences = torch.arange(src.shape[0], device=device)  # (N,) original sentence ids
    cache = model.new_cache()
    scores = torch.full((src.shape[0], k), -math.inf, device=device)  # (N, K) raw log P
    scores[:, 0] = 0.0  # one empty hypothesis per sentence; the -inf copies never survive
    history = torch.full((src.shape[0] * k, 1), bos_id, dtype=torch.long, device=device)

    # One encoding per sentence, shared by its beams, when the model and its cache can
    # take that; otherwise one copy per beam.
    shared = getattr(model, "accepts_shared_source", False) and hasattr(cache, "reorder_beams")

    # Inference mode (cheaper small operations); only Python values leave the loop.
    with cpu_decoding(src.shape[0] * k, device), torch.inference_mode():
        encoded = encode_source(model, src, src_padding_mask)  # N rows
        if not shared:
            encoded = encoded.reorder(sentences.repeat_interleave(k))  # (N·K) rows
        for step in range(1, max_len + 1):  # step = tokens per hypothesis after this step
            n = sentences.numel()
            logits = model.decode_step(history[:, -1:], encoded, cache)[:, -1]  # (N·K, V)
            logits = logits.float()
            vocab = logits.shape[-1]
            # score + log p(w) = score + logit(w) − logsumexp(logits): added to the logits
            # in place, one pass over the (N·K, V) matrix where log_softmax and the
            # addition would take two and a fresh matrix each.
            offsets = scores - logits.logsumexp(dim=-1).view(n, k)  # (N, K)
            candidates = logits.view(n, k, vocab).add_(offsets.unsqueeze(-1))  # (N, K, V)
            if pad_id != eos_id:
                candidates[:, :, pad_id] = -math.inf
            if step <= min_len:
                candidates[:, :, eos_id] = -math.inf
            top_scores, top_index = candidates.view(n, k * vocab).topk(min(2 * k, k * vocab))
            top_beams, top_tokens = top_index // vocab, top_index % vocab  # (N, 2K) best first
            is_eos = top_tokens == eos_id

            # EOS among the K best candidates: finished (|Y| = step, EOS included).
            ended = is_eos[:, :k] & top_scores[:, :k].isfinite()
            if bool(ended.any()):
                penalty = _length_penalty(step, alpha)
                for i, rank in ended.nonzero().tolist():
                    row = i * k + int(top_beams[i, rank])
                    raw = float(top_scores[i, rank])
                    hypothesis = _Hypothesis(raw / penalty, raw, history[row, 1:].tolist())
                    _keep(finished[int(sentences[i])], hypothesis, n_best)

            # The K best candidates not ending in EOS stay active (-inf ones are dead rows).
            not_eos = top_scores.masked_fill(is_eos, -math.inf)
            scores, pick = not_eos.topk(k, dim=-1)  # (N, K)
            rows = torch.arange(n, device=device).unsqueeze(1) * k + top_beams.gather(1, pick)
            new_tokens = top_tokens.gather(1, pick)  # (N, K)

            if step == max_len:  # cut off: the active hypotheses count as finished as they are
                history = torch.cat([history[rows.view(-1)], new_tokens.view(-1, 1)], dim=1)
                penalty = _length_penalty(step, alpha)
                for i, beam in scores.isfinite().nonzero().tolist():
                    raw = float(scores[i, beam])
                    hypothesis = _Hypothesis(raw / penalty, raw, history[i * k + beam, 1:].tolist())
                    _keep(finished[int(sentences[i])], hypothesis, n_best)
                break

            # Done: n_best finished and no active hypothesis can beat the worst of them.
            bound = (scores.max(dim=-1).values / best_reachable_divisor).tolist()  # (N,)
            keep = []
            for i, sentence in enumerate(sentences.tolist()):
                done = bound[i] == -math.inf or (
                    len(finished[sentence]) == n_best and bound[i] <= finished[sentence][-1].score
                )
                keep.append(not done)
            if not any(keep):
                break
            alive = torch.tensor(keep, device=device).nonzero().squeeze(1)  # (N',)
            index = rows[alive].view(-1)  # (N'·K,) rows of the current batch
            source_rows = None  # the encoder rows of the sentences still searching
            if alive.numel() < n:
                source_rows = alive
                if not shared:  # K copies per sentence
                    source_rows = (alive.unsqueeze(1) * k + torch.arange(k, device=device)).view(-1)
            if hasattr(cache, "reorder_beams"):  # leaves per-sentence state in place
                cache.reorder_beams(index, source_rows)
            else:
                cache.reorder(index)
            history = torch.cat([history[index], new_tokens[alive].view(-1, 1)], dim=1)
            scores = scores[alive]
            if source_rows is not None:
                encoded = encoded.reorder(source_rows)
                sentences = sentences[alive]

    return _collect(finished, n_best, device)


def _collect(finished: list[list[_Hypothesis]], n_best: int, device: torch.device) -> BeamResult:
    """Pack each sentence's best-first finished list into a :class:`BeamResult`."""
    empty = _Hypothesis(-math.inf, -math.inf, [])
    padded = [hyps + [empty] * (n_best - len(hyps)) for hyps in finished]
    return BeamResult(
        tokens=[[list(h.tokens) for h in hyps] for hyps in padded],
        scores=torch.tensor([[h.score for h in hyps] for hyps in padded], device=device),
        log_probs=torch.tensor([[h.log_prob for h in hyps] for hyps in padded], device=device),
    )


def _check_beam_args(
    beam_size: int, n_best: int, max_len: int, min_len: int, length_penalty: float
) -> None:
    """Raise a one-line ``ValueError`` for settings :func:`beam_search` cannot use."""
    check_positive_int("beam_size", beam_size)
    check_positive_int("n_best", n_best)
    check_positive_int("max_len", max_len)
    if n_best > beam_size:
        raise ValueError(f"n_best ({n_best}) must be <= beam_size ({beam_size})")
    if isinstance(min_len, bool) or not isinstance(min_len, Integral) or not 0 <= min_len < max_len:
        raise ValueError(f"min_len must be an integer in [0, max_len={max_len}), got {min_len!r}")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, Real):
        raise ValueError(f"length_penalty must be a number >= 0, got {length_penalty!r}")
    if not math.isfinite(length_penalty) or length_penalty < 0:
        raise ValueError(f"length_penalty must be finite and >= 0 (0 = none), got {length_penalty}")
