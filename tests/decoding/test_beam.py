"""Beam search: exact oracle traces, then a real tiny Transformer against references.

The oracle is a plain class implementing :class:`~attnkit.protocols.Seq2SeqStep` with
scripted next-token probabilities per prefix, so every expected hypothesis and score
below is worked out by hand (fairseq-style). Its cache stores each row's prefix and
applies ``reorder``, and checks that cache rows and encoder rows stay aligned, so a
wrong reorder shows up as a wrong lookup or a failed assertion.

The real model checks the plumbing: cache vs full recomputation for every positional
scheme, batched vs one sentence at a time, beam 1 vs greedy, and returned scores vs the
teacher-forced log-probabilities.
"""

import math

import pytest
import torch

from attnkit.decoding import BeamResult, beam_search, greedy_translate, sample_translate
from attnkit.nn import POSITIONAL_SCHEMES
from attnkit.protocols import Seq2SeqStep

from .conftest import SRC_VOCAB, tiny_transformer

PAD, BOS, EOS, A, B, C = range(6)
ORACLE_VOCAB = 6
# Prefixes a script does not list (pruned or dead rows) get this flat distribution.
DEFAULT = {EOS: 0.25, A: 0.25, B: 0.25, C: 0.25}


def lp(length, alpha):
    """GNMT length penalty, written out independently of the implementation."""
    return ((5 + length) / 6) ** alpha


# ------------------------------------------------------------------ the oracle


class OracleEncoded:
    """Encoder output: which script (sentence) each row belongs to."""

    def __init__(self, sentences):
        self.sentences = list(sentences)

    def reorder(self, index):
        return OracleEncoded(self.sentences[i] for i in index.tolist())


class OracleCache:
    """Per row: its sentence and the tokens generated so far (BOS excluded)."""

    def __init__(self):
        self.sentences = None
        self.prefixes = None

    def __len__(self):
        return 0 if self.prefixes is None else len(self.prefixes[0]) + 1

    def reorder(self, index):
        rows = index.tolist()
        self.sentences = [self.sentences[i] for i in rows]
        self.prefixes = [self.prefixes[i] for i in rows]


class Oracle:
    """Scripted probabilities: ``scripts[src[b, 0]][prefix] = {token: p}``.

    Records the number of rows of every ``decode_step`` call (one call per step).
    """

    def __init__(self, scripts):
        self.scripts = scripts
        self.rows = []
        self.encodes = 0

    def encode(self, src):
        self.encodes += 1
        return OracleEncoded(src[:, 0].tolist())

    def new_cache(self):
        return OracleCache()

    def decode_step(self, tgt, encoded, cache):
        assert tgt.shape[1] == 1, "one new token per step"
        self.rows.append(tgt.shape[0])
        if cache.prefixes is None:
            assert bool((tgt == BOS).all())
            cache.sentences = list(encoded.sentences)
            cache.prefixes = [()] * tgt.shape[0]
        else:
            assert cache.sentences == encoded.sentences, "cache and encoder rows diverged"
            new = tgt[:, 0].tolist()
            cache.prefixes = [(*p, t) for p, t in zip(cache.prefixes, new, strict=True)]
        probs = torch.zeros(tgt.shape[0], ORACLE_VOCAB)
        for row, (sentence, prefix) in enumerate(zip(cache.sentences, cache.prefixes, strict=True)):
            for token, p in self.scripts[sentence].get(prefix, DEFAULT).items():
                probs[row, token] = p
        return probs.log().unsqueeze(1)  # (B, 1, V); zero probability = -inf


assert isinstance(Oracle({}), Seq2SeqStep)

# S1: aE is found at step 2; bcE (step 3) has a lower probability but wins with α = 1.
S1 = {
    (): {A: 0.5, B: 0.3, EOS: 0.2},
    (A,): {EOS: 0.6, C: 0.4},
    (B,): {C: 0.95, EOS: 0.05},
    (B, C): {EOS: 0.98, A: 0.02},
    (A, C): {EOS: 0.4, B: 0.6},
}
# S2: EOS right away is in the beam at step 1, but "a c EOS" beats it later (α = 0).
S2 = {
    (): {A: 0.6, EOS: 0.3, B: 0.1},
    (A,): {C: 0.9, EOS: 0.1},
    (B,): {A: 0.5, C: 0.3, EOS: 0.2},
    (A, C): {EOS: 0.9, A: 0.1},
}
# S3: the best hypothesis starts with the third most likely token (needs beam 3).
S3 = {
    (): {A: 0.4, B: 0.35, C: 0.25},
    (A,): {EOS: 0.2, B: 0.8},
    (B,): {EOS: 0.2, C: 0.8},
    (C,): {EOS: 0.9, A: 0.1},
    (A, B): {EOS: 0.55, A: 0.45},
    (B, C): {EOS: 0.6, B: 0.4},
}
# S4: a nearly free long continuation: bounding with lp(t + 1) instead of lp(max_len)
# would stop too early.
S4 = {
    (): {A: 0.5, B: 0.3, EOS: 0.2},
    (A,): {EOS: 0.6, C: 0.4},
    (B,): {C: 0.8, EOS: 0.2},
    (A, C): {EOS: 0.4, B: 0.6},
    (B, C): {C: 0.99, EOS: 0.01},
    (B, C, C): {C: 0.99, EOS: 0.01},
    (B, C, C, C): {EOS: 0.99, C: 0.01},
    (A, C, B): {EOS: 0.5, A: 0.3, B: 0.2},
    (A, C, B, A): {EOS: 0.9, A: 0.1},
}


def run_oracle(script, **options):
    oracle = Oracle({7: script})
    options = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, **options}
    result = beam_search(oracle, torch.tensor([[7]]), **options)
    return result, oracle


def assert_result(result, tokens, log_probs, scores):
    assert result.tokens == [tokens]
    torch.testing.assert_close(result.log_probs, torch.tensor([log_probs]), atol=1e-6, rtol=0)
    torch.testing.assert_close(result.scores, torch.tensor([scores]), atol=1e-6, rtol=0)


def test_early_stop_when_nothing_can_beat_the_finished_one():
    # K=2, α=0. Step 1: a .5, b .3 (EOS .2 is third: pruned).
    # Step 2: aE .3 (finished), bc .285, ac .2, bE .015 → active bc, ac.
    # Best active .285 < .3 and scores only fall: done after 2 decoder calls.
    result, oracle = run_oracle(S1, beam_size=2, max_len=10, length_penalty=0.0)
    assert_result(result, [[A]], [math.log(0.3)], [math.log(0.3)])
    assert oracle.rows == [2, 2]
    assert oracle.encodes == 1


def test_length_penalty_changes_the_winner():
    # α=1, max_len=4. After step 2: aE normalised log(.3)/lp(2) = -1.032, but the bound
    # for bc is log(.285)/lp(4) = -0.837 > -1.032: go on. Step 3: bcE .2793 finished,
    # log(.2793)/lp(3) = -0.957 beats aE; active acb .12 → bound log(.12)/lp(4) = -1.41: done.
    result, oracle = run_oracle(S1, beam_size=2, max_len=4, length_penalty=1.0)
    bc = math.log(0.3 * 0.95 * 0.98)
    assert_result(result, [[B, C]], [bc], [bc / lp(3, 1.0)])
    assert oracle.rows == [2, 2, 2]
    # The same search without a penalty prefers the shorter, more probable one.
    assert run_oracle(S1, beam_size=2, max_len=4, length_penalty=0.0)[0].tokens == [[[A]]]


def test_n_best_are_ordered_by_normalised_score():
    a, bc = math.log(0.5 * 0.6), math.log(0.3 * 0.95 * 0.98)
    result, oracle = run_oracle(S1, beam_size=2, max_len=4, length_penalty=1.0, n_best=2)
    assert_result(result, [[B, C], [A]], [bc, a], [bc / lp(3, 1.0), a / lp(2, 1.0)])
    assert oracle.rows == [2, 2, 2]  # 2 finished after step 3; bound -1.41 < -1.03
    result, _ = run_oracle(S1, beam_size=2, max_len=4, length_penalty=0.0, n_best=2)
    assert_result(result, [[A], [B, C]], [a, bc], [a, bc])


def test_finished_early_is_beaten_later():
    # K=2, α=0. Step 1: a .6, EOS .3 (finished: empty output), b .1 → active a, b.
    # Bound .6 > .3: go on. Step 2: ac .54, aE .06 (finished, worse), ba .05 → active
    # ac, ba. Step 3: acE .486 beats the empty output; active aca .054 < .486: done.
    result, oracle = run_oracle(S2, beam_size=2, max_len=10, length_penalty=0.0)
    acE = math.log(0.6 * 0.9 * 0.9)
    assert_result(result, [[A, C]], [acE], [acE])
    assert oracle.rows == [2, 2, 2]


def test_bound_uses_the_penalty_at_max_len():
    # α=1, max_len=6, K=2. After step 2: aE finished, -1.032; active bc .24. A bound of
    # log(.24)/lp(3) = -1.070 would stop here, but bc c c EOS (|Y|=5) reaches
    # log(.2329)/lp(5) = -0.874: the right bound log(.24)/lp(6) = -0.778 keeps going.
    # Steps 3–5: bcc, bccc, bcccE (acbE .06 and acbaE .0324 finish too, worse); then the
    # best active, acbaa .0036, bounds at log(.0036)/lp(6) = -3.07: done after 5 calls.
    result, oracle = run_oracle(S4, beam_size=2, max_len=6, length_penalty=1.0)
    bccc = math.log(0.3 * 0.8 * 0.99 * 0.99 * 0.99)
    assert_result(result, [[B, C, C, C]], [bccc], [bccc / lp(5, 1.0)])
    assert oracle.rows == [2] * 5


def test_larger_beam_finds_a_better_hypothesis():
    # K=2 keeps a, b at step 1 and ends with abE .176 (bcE .168 also finishes; aba .144
    # cannot beat it). K=3 also keeps c: step 2 finishes cE .225, the winner.
    ab = math.log(0.4 * 0.8 * 0.55)
    result2, oracle2 = run_oracle(S3, beam_size=2, max_len=4, length_penalty=0.0)
    assert_result(result2, [[A, B]], [ab], [ab])
    c = math.log(0.25 * 0.9)
    result3, oracle3 = run_oracle(S3, beam_size=3, max_len=4, length_penalty=0.0)
    assert_result(result3, [[C]], [c], [c])
    assert oracle2.rows == [2, 2, 2] and oracle3.rows == [3, 3, 3]
    assert result3.scores[0, 0] >= result2.scores[0, 0]
    for script in (S1, S2, S3, S4):  # on every script, K=3 never does worse than K=1, 2
        best = [
            run_oracle(script, beam_size=k, max_len=6, length_penalty=1.0)[0].scores[0, 0]
            for k in (1, 2, 3)
        ]
        assert best[0] <= best[1] <= best[2]


def test_n_best_three_with_beam_three():
    # K=3, α=1, max_len=3: finished cE (step 2), abE and bcE (step 3); at max_len the
    # active aba (log(.144)/lp(3) = -1.45) is worse than all three.
    c, ab, bc = math.log(0.225), math.log(0.4 * 0.8 * 0.55), math.log(0.35 * 0.8 * 0.6)
    result, _ = run_oracle(S3, beam_size=3, max_len=3, length_penalty=1.0, n_best=3)
    assert_result(
        result,
        [[C], [A, B], [B, C]],
        [c, ab, bc],
        [c / lp(2, 1.0), ab / lp(3, 1.0), bc / lp(3, 1.0)],
    )


def test_max_len_counts_unfinished_hypotheses_as_finished():
    # K=2, max_len=2: ab .32 and bc .28 are active at the cut-off; |Y| = 2 (no EOS).
    result, oracle = run_oracle(S3, beam_size=2, max_len=2, length_penalty=0.6, n_best=2)
    ab, bc = math.log(0.4 * 0.8), math.log(0.35 * 0.8)
    assert_result(result, [[A, B], [B, C]], [ab, bc], [ab / lp(2, 0.6), bc / lp(2, 0.6)])
    assert oracle.rows == [2, 2]
    assert all(len(tokens) == 2 for tokens in result.tokens[0])


def test_min_len_bans_early_eos_without_renormalising():
    # min_len=2 bans aE at step 2; bcE wins at step 3 with its unchanged probability.
    result, _ = run_oracle(S1, beam_size=2, max_len=4, length_penalty=0.0, min_len=2)
    bc = math.log(0.3 * 0.95 * 0.98)
    assert_result(result, [[B, C]], [bc], [bc])


def test_pad_equal_to_eos_is_allowed():
    expected, _ = run_oracle(S2, beam_size=2, max_len=10, length_penalty=0.0)
    result, _ = run_oracle(S2, beam_size=2, max_len=10, length_penalty=0.0, pad_id=EOS)
    assert result.tokens == expected.tokens
    torch.testing.assert_close(result.scores, expected.scores)


def test_unreachable_n_best_slots_are_empty():
    # Only one hypothesis has non-zero probability: the second slot stays empty.
    result, oracle = run_oracle({(): {EOS: 1.0}}, beam_size=2, max_len=5, n_best=2)
    assert result.tokens == [[[], []]]
    assert result.scores.tolist() == [[0.0, -math.inf]]
    assert oracle.rows == [2]


def test_batched_oracle_drops_finished_sentences():
    # Alone: S1 stops after 2 steps, S2 and S3 after 3; together the batch shrinks from
    # 3·2 to 2·2 rows once S1 is done, and every sentence gets its own answer.
    oracle = Oracle({1: S1, 2: S2, 3: S3})
    src = torch.tensor([[1], [2], [3]])
    result = beam_search(
        oracle, src, beam_size=2, max_len=10, bos_id=BOS, eos_id=EOS, pad_id=PAD, length_penalty=0
    )
    assert result.tokens == [[[A]], [[A, C]], [[A, B]]]
    expected = [math.log(0.3), math.log(0.486), math.log(0.176)]
    torch.testing.assert_close(result.scores[:, 0], torch.tensor(expected), atol=1e-6, rtol=0)
    assert oracle.rows == [6, 6, 4]
    assert oracle.encodes == 1


BAD_ARGS = [
    ({"beam_size": 0}, "beam_size"),
    ({"n_best": 0}, "n_best"),
    ({"beam_size": 2, "n_best": 3}, "n_best"),
    ({"max_len": 0}, "max_len"),
    ({"length_penalty": -0.1}, "length_penalty"),
    ({"length_penalty": math.nan}, "length_penalty"),
    ({"min_len": 5}, "min_len"),
    ({"src": torch.zeros(1, 0, dtype=torch.long)}, "empty"),
    ({"src": torch.zeros(0, 3, dtype=torch.long)}, "no rows"),
    ({"src": torch.tensor([[7, 0], [0, 0]])}, "row 1 is empty"),
    ({"src": torch.ones(2, 3)}, "integer"),
    ({"src_padding_mask": torch.ones(1, 2, dtype=torch.bool)}, "src_padding_mask"),
]


@pytest.mark.parametrize("bad, message", BAD_ARGS)
def test_invalid_arguments_raise_one_line_errors(bad, message):
    options = {
        "src": torch.tensor([[7]]),
        "beam_size": 2,
        "max_len": 5,
        "bos_id": BOS,
        "eos_id": EOS,
        "pad_id": PAD,
        **bad,
    }
    with pytest.raises(ValueError, match=message) as info:
        beam_search(Oracle({7: S1}), **options)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ a real tiny model

MAX_LEN = 10


def sources():
    """Five sentences of lengths 3–7 (no padding inside)."""
    g = torch.Generator().manual_seed(1)
    return [torch.randint(3, SRC_VOCAB, (1, n), generator=g) for n in (6, 3, 7, 5, 4)]


def right_pad(rows):
    width = max(row.shape[1] for row in rows)
    return torch.cat(
        [torch.nn.functional.pad(row, (0, width - row.shape[1]), value=PAD) for row in rows]
    )


@torch.no_grad()
def reference_beam(model, src, *, beam_size, alpha, n_best, max_len=MAX_LEN):
    """One sentence, plain Python lists, full decoder forward every step (no cache),
    the same rules as beam_search written the obvious way."""
    active, finished = [((), 0.0)], []
    for step in range(1, max_len + 1):
        tgt = torch.tensor([[BOS, *prefix] for prefix, _ in active])
        logits = model(src.expand(len(active), -1), tgt).logits[:, -1]
        log_probs = logits.log_softmax(-1)
        log_probs[:, PAD] = -math.inf
        candidates = sorted(
            (
                (score + float(log_probs[i, w]), (*prefix, w))
                for i, (prefix, score) in enumerate(active)
                for w in range(log_probs.shape[-1])
            ),
            key=lambda c: -c[0],
        )
        finished += [
            (s / lp(step, alpha), s, h[:-1])
            for s, h in candidates[:beam_size]
            if h[-1] == EOS and s > -math.inf
        ]
        active = [(h, s) for s, h in candidates if h[-1] != EOS][:beam_size]
        if step == max_len:
            finished += [(s / lp(step, alpha), s, h) for h, s in active]
        finished = sorted(finished, key=lambda f: -f[0])[:n_best]
        best_active = max(s for _, s in active)
        if len(finished) == n_best and best_active / lp(max_len, alpha) <= finished[-1][0]:
            break
    return [list(h) for _, _, h in finished], [f[0] for f in finished]


def search(model, src, **options):
    options = {"max_len": MAX_LEN, "bos_id": BOS, "eos_id": EOS, "pad_id": PAD, **options}
    return beam_search(model, src, **options)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_cached_beam_equals_uncached_reference(positional):
    model = tiny_transformer(positional)
    for src in sources()[:3]:
        result = search(model, src, beam_size=3, n_best=2, length_penalty=0.6)
        tokens, scores = reference_beam(model, src, beam_size=3, alpha=0.6, n_best=2)
        assert result.tokens == [tokens]
        torch.testing.assert_close(result.scores, torch.tensor([scores]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_batched_equals_one_sentence_at_a_time(positional):
    model = tiny_transformer(positional)
    rows = sources()
    src = right_pad(rows)
    options = {"beam_size": 3, "n_best": 3, "length_penalty": 0.6}
    batched = search(model, src, src_padding_mask=src != PAD, **options)
    for b, row in enumerate(rows):
        alone = search(model, row, **options)
        assert batched.tokens[b] == alone.tokens[0]
        torch.testing.assert_close(batched.scores[b], alone.scores[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batched.log_probs[b], alone.log_probs[0], atol=1e-5, rtol=0)
    inferred = search(model, src, **options)  # the model finds padding from its pad_id
    assert inferred.tokens == batched.tokens


@pytest.mark.parametrize("positional", ["sinusoidal", "rope"])
@torch.no_grad()
def test_scores_equal_teacher_forced_log_probs(positional):
    model = tiny_transformer(positional)
    src = right_pad(sources())
    alpha = 0.6
    result = search(model, src, beam_size=4, n_best=3, length_penalty=alpha)
    assert isinstance(result, BeamResult) and result.scores.shape == (5, 3)
    lengths = set()
    for b in range(src.shape[0]):
        for i, tokens in enumerate(result.tokens[b]):
            ended = len(tokens) < MAX_LEN  # else cut off at max_len, no EOS
            targets = [*tokens, EOS] if ended else tokens
            tgt = torch.tensor([[BOS, *targets[:-1]]])
            log_probs = model(src[b : b + 1], tgt).logits.log_softmax(-1)[0]
            total = log_probs.gather(-1, torch.tensor(targets).unsqueeze(-1)).sum()
            torch.testing.assert_close(result.log_probs[b, i], total, atol=1e-4, rtol=0)
            normalised = total / lp(len(targets), alpha)
            torch.testing.assert_close(result.scores[b, i], normalised, atol=1e-4, rtol=0)
            lengths.add(ended)
        assert result.scores[b].tolist() == sorted(result.scores[b].tolist(), reverse=True)
    assert lengths == {True, False}  # both kinds of hypothesis were checked


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_beam_one_equals_greedy(positional):
    model = tiny_transformer(positional)
    src = right_pad(sources())
    result = search(model, src, beam_size=1, length_penalty=0.0)
    greedy = sample_translate(
        model, src, max_len=MAX_LEN, bos_id=BOS, eos_id=EOS, temperature=0.0, pad_id=PAD
    )
    for b, row in enumerate(greedy.tolist()):
        expected = row[: row.index(EOS)] if EOS in row else row
        assert result.tokens[b] == [expected]


def test_beam_one_equals_greedy_translate():
    # greedy_translate may pick PAD (beam search never does): compare the rows where it
    # does not, and make sure there are some.
    model = tiny_transformer("rope")
    src = right_pad(sources())
    result = search(model, src, beam_size=1, length_penalty=0.0)
    greedy = greedy_translate(model, src, bos_id=BOS, eos_id=EOS, max_len=MAX_LEN).tolist()
    compared = 0
    for b, row in enumerate(greedy):
        row = row[: row.index(EOS)] if EOS in row else row
        if PAD not in row:
            assert result.tokens[b] == [row]
            compared += 1
    assert compared >= 2


def test_beams_leave_the_cross_attention_caches_in_place(monkeypatch):
    """Hypotheses move only between the beams of their own sentence, whose source keys
    are identical: beam search must not copy the cross-attention caches each step, and
    must find the same hypotheses as a cache that only offers ``reorder``."""
    model = tiny_transformer()
    rows = sources()
    src = right_pad(rows)
    options = {"beam_size": 3, "n_best": 2, "length_penalty": 0.6, "src_padding_mask": src != PAD}

    moved = {"self": 0, "cross": 0}
    new_cache = model.new_cache

    def counting_cache():
        cache = new_cache()
        for kind, caches in (("self", cache.self_attn), ("cross", cache.cross_attn)):
            for layer_cache in caches:
                original = layer_cache.reorder

                def reorder(index, original=original, kind=kind):
                    moved[kind] += 1
                    original(index)

                layer_cache.reorder = reorder
        return cache

    monkeypatch.setattr(model, "new_cache", counting_cache)
    # One source copy per beam, as the reorder-only cache below needs: the same maths.
    monkeypatch.setattr(type(model), "accepts_shared_source", False)
    fast = search(model, src, **options)
    assert moved["self"] > moved["cross"]
    steps = moved["self"] // len(model.decoder.layers)
    sentences_finished = moved["cross"] // len(model.decoder.layers)
    assert sentences_finished < steps  # moved only when a sentence left the batch

    class ReorderOnly:  # a user's cache: the protocol's reorder and nothing more
        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return len(self.inner)

        def reorder(self, index):
            self.inner.reorder(index)

    monkeypatch.setattr(model, "new_cache", lambda: ReorderOnly(new_cache()))
    plain_decode = type(model).decode_step

    def decode_step(tgt, encoded, cache):
        return plain_decode(model, tgt, encoded, cache.inner)

    monkeypatch.setattr(model, "decode_step", decode_step)
    slow = search(model, src, **options)
    assert fast.tokens == slow.tokens
    torch.testing.assert_close(fast.scores, slow.scores, atol=0, rtol=0)


@pytest.mark.parametrize("positional", ["sinusoidal", "rope"])
def test_beams_share_one_encoding_per_sentence(monkeypatch, positional):
    """The K beams of a sentence attend over one copy of its source (the cross-attention
    caches hold a row per sentence, not per beam) and find what K copies find."""
    model = tiny_transformer(positional)
    src = right_pad(sources())
    options = {"beam_size": 4, "n_best": 2, "length_penalty": 0.6}
    source_rows = []
    new_cache = model.new_cache

    def watching_cache():
        cache = new_cache()
        original = cache.reorder_beams

        def reorder_beams(index, source_rows_now=None):
            source_rows.append(cache.cross_attn[0].keys.shape[0])
            original(index, source_rows_now)

        cache.reorder_beams = reorder_beams
        return cache

    monkeypatch.setattr(model, "new_cache", watching_cache)
    shared = search(model, src, **options)
    assert source_rows[0] == src.shape[0]  # one row per sentence, not 4 per sentence
    assert source_rows[-1] < source_rows[0]  # and only the sentences still searching

    monkeypatch.setattr(type(model), "accepts_shared_source", False)
    source_rows.clear()
    copied = search(model, src, **options)
    assert source_rows[0] == 4 * src.shape[0]
    assert shared.tokens == copied.tokens
    torch.testing.assert_close(shared.scores, copied.scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(shared.log_probs, copied.log_probs, atol=1e-5, rtol=0)
