"""Greedy and sampled translation: cached decoding equals recomputing, top-k 1 is greedy,
seeds reproduce, the source is encoded once, bad arguments fail early."""

import pytest
import torch

from attnkit.decoding import beam_search, greedy_translate, next_token, sample_translate
from attnkit.nn import POSITIONAL_SCHEMES

from .conftest import SRC_VOCAB, tiny_transformer

PAD, BOS, EOS = 0, 1, 2
MAX_LEN = 10


def source(batch=4, length=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, SRC_VOCAB, (batch, length), generator=g)


def translate(model, src, **options):
    options = {"max_len": MAX_LEN, "bos_id": BOS, "eos_id": EOS, **options}
    return sample_translate(model, src, **options)


class Spy:
    """Wraps a model, recording encode calls and the shape of every decode_step input."""

    def __init__(self, model):
        self.model, self.encodes, self.steps = model, 0, []

    def encode(self, src, **options):
        self.encodes += 1
        return self.model.encode(src, **options)

    def new_cache(self):
        return self.model.new_cache()

    def decode_step(self, tgt, encoded, cache):
        self.steps.append(tuple(tgt.shape))
        return self.model.decode_step(tgt, encoded, cache)


@torch.no_grad()
def uncached_translate(model, src, **sampling):
    """Reference: the full teacher-forced forward over the growing target every step."""
    tgt = torch.full((src.shape[0], 1), BOS)
    for _ in range(MAX_LEN):
        token = next_token(model(src, tgt).logits[:, -1], **sampling)
        tgt = torch.cat([tgt, token.unsqueeze(1)], dim=1)
    return tgt[:, 1:]


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_greedy_equals_uncached_and_greedy_translate(positional):
    model = tiny_transformer(positional)
    src = source()
    greedy = translate(model, src, temperature=0.0)
    reference = uncached_translate(model, src, temperature=0.0)
    for row, ref in zip(greedy.tolist(), reference.tolist(), strict=True):
        end = row.index(EOS) + 1 if EOS in row else len(row)
        assert row[:end] == ref[:end]
        assert all(t == EOS for t in row[end:])  # finished rows repeat EOS
    expected = greedy_translate(model, src, bos_id=BOS, eos_id=EOS, max_len=MAX_LEN)
    assert greedy.equal(expected)


def test_top_k_one_equals_greedy():
    model = tiny_transformer("rope")
    src = source()
    greedy = translate(model, src, temperature=0.0, pad_id=PAD)
    g = torch.Generator().manual_seed(5)
    sampled = translate(model, src, temperature=1.3, top_k=1, generator=g, pad_id=PAD)
    assert sampled.equal(greedy)


def test_seeded_sampling_reproduces():
    model = tiny_transformer("learned")
    src = source()

    def sample(seed):
        g = torch.Generator().manual_seed(seed)
        return translate(model, src, temperature=1.5, top_p=0.95, generator=g)

    assert sample(3).equal(sample(3))
    assert not sample(3).equal(sample(4))


def test_sampling_equals_uncached_with_the_same_seed():
    model = tiny_transformer("relative")
    src = source(batch=3)
    cached = translate(model, src, temperature=1.5, generator=torch.Generator().manual_seed(7))
    reference = uncached_translate(
        model, src, temperature=1.5, generator=torch.Generator().manual_seed(7)
    )
    # Both draw one number per row per step, so they agree up to each row's EOS.
    for row, ref in zip(cached.tolist(), reference.tolist(), strict=False):
        end = row.index(EOS) + 1 if EOS in row else len(row)
        assert row[:end] == ref[:end]


def test_encodes_once_and_feeds_one_token_per_step():
    spy = Spy(tiny_transformer())
    src = source(batch=2)
    out = translate(spy, src, temperature=0.0)
    assert spy.encodes == 1
    assert spy.steps == [(2, 1)] * out.shape[1]
    spy = Spy(tiny_transformer())
    beam_search(spy, src, beam_size=3, max_len=MAX_LEN, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    assert spy.encodes == 1
    assert spy.steps[0] == (6, 1) and all(rows % 3 == 0 and t == 1 for rows, t in spy.steps)


def test_pad_id_is_never_sampled_and_fills_finished_rows():
    model = tiny_transformer("learned")  # its greedy output picks PAD now and then
    src = source()
    assert (translate(model, src, temperature=0.0) == PAD).any()
    out = translate(model, src, temperature=0.0, pad_id=PAD)
    for row in out.tolist():
        end = row.index(EOS) + 1 if EOS in row else len(row)
        assert PAD not in row[:end]
        assert all(t == PAD for t in row[end:])


def test_padded_batch_equals_each_sentence_alone():
    model = tiny_transformer("rope")
    rows = [source(1, n, seed=n) for n in (3, 6, 4)]
    src = torch.cat([torch.nn.functional.pad(r, (0, 6 - r.shape[1]), value=PAD) for r in rows])
    batched = translate(model, src, temperature=0.0, src_padding_mask=src != PAD)
    for b, row in enumerate(rows):
        alone = translate(model, row, temperature=0.0, max_len=batched.shape[1])
        n = alone.shape[1]
        assert batched[b, :n].equal(alone[0])
        assert all(t == EOS for t in batched[b, n:].tolist())


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"max_len": 0}, "max_len"),
        ({"src": torch.zeros(2, 0, dtype=torch.long)}, "empty"),
        ({"src_padding_mask": torch.zeros(4, 6, dtype=torch.bool)}, "row 0 is empty"),
        ({"src_padding_mask": torch.ones(4, 5, dtype=torch.bool)}, "src_padding_mask"),
        ({"eos_id": -1}, "eos_id"),
    ],
)
def test_invalid_arguments_raise_one_line_errors(bad, message):
    options = {"src": source(), "temperature": 1.0, **bad}
    with pytest.raises(ValueError, match=message) as info:
        translate(tiny_transformer(), **options)
    assert "\n" not in str(info.value)


def test_translations_are_ordinary_tensors_that_train():
    """The decoding loops run in inference mode; their results must train like any
    tensor (an inference tensor cannot be saved for backward)."""
    model = tiny_transformer()
    src = source()
    out = translate(model, src, temperature=0.0)
    best = beam_search(model, src, beam_size=2, max_len=MAX_LEN, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    assert not out.is_inference() and not best.scores.is_inference()
    tgt = torch.cat([torch.full((src.shape[0], 1), BOS), out.clamp_max(8)], dim=1)
    model.train()
    model(src, tgt[:, :-1], labels=tgt[:, 1:]).loss.backward()
    assert any(p.grad is not None for p in model.parameters())
