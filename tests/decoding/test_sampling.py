"""Generation for decoder-only models: cached decoding equals recomputing everything,
sampling follows the processed softmax, EOS and padding behave, bad arguments fail early.

Real tiny :class:`DecoderLM` s check the cache for every positional scheme; scripted step
models (plain classes implementing the protocol, no ``torch.nn``) give exact oracles for
EOS handling and sampling frequencies.
"""

import math

import pytest
import torch

from attnkit import DecoderLMConfig
from attnkit.decoding import generate, greedy_generate, next_token, stream
from attnkit.models import DecoderLM
from attnkit.nn import POSITIONAL_SCHEMES
from attnkit.protocols import LanguageModelStep

V = 23
EOS = 1


def _model(positional, **extra):
    """A random tiny LM; untied, wide initial weights so greedy output varies."""
    torch.manual_seed(0)
    config = DecoderLMConfig(
        vocab_size=V,
        d_model=32,
        num_heads=4,
        num_layers=2,
        dropout=0.0,
        positional=positional,
        max_len=48,
        init_std=0.3,
        tie_embeddings=False,
        **extra,
    )
    return DecoderLM(config).eval()


def _prompt(batch, length, seed=1):
    return torch.randint(2, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def _uncached(model, prompt, max_new_tokens, **sampling):
    """Reference: re-run the full forward over the growing sequence at every step."""
    tokens = prompt
    for _ in range(max_new_tokens):
        real = torch.ones_like(tokens, dtype=torch.bool)
        logits = model(tokens, padding_mask=real).logits[:, -1]  # (B, V)
        token = next_token(logits, **sampling)
        tokens = torch.cat([tokens, token.unsqueeze(1)], dim=1)
    return tokens


# ------------------------------------------------------------------ scripted step models


class CountingCache:
    """Satisfies the Cache protocol; counts the positions fed so far."""

    def __init__(self):
        self.length = 0

    def __len__(self):
        return self.length

    def reorder(self, index):
        pass


class ScriptedLM:
    """Row ``b`` 's ``k``-th new token is most likely ``script[b][k]`` (by a wide margin).

    With ``logits`` instead, every step returns those fixed logits for every row.
    Records each ``decode_step`` call's tokens and padding mask.
    """

    def __init__(self, script=None, *, logits=None, vocab_size=V):
        self.script, self.logits, self.vocab_size = script, logits, vocab_size
        self.calls = []

    def new_cache(self):
        return CountingCache()

    def decode_step(self, tokens, cache, *, padding_mask=None):
        batch, length = tokens.shape
        step = len(self.calls)
        self.calls.append((tokens.clone(), padding_mask))
        cache.length += length
        if self.logits is not None:
            return self.logits.expand(batch, length, -1).clone()
        out = torch.zeros(batch, length, self.vocab_size)
        for row in range(batch):
            out[row, -1, self.script[row][step]] = 10.0
        return out


def test_scripted_model_satisfies_the_protocol():
    assert isinstance(ScriptedLM([[0]]), LanguageModelStep)
    assert isinstance(_model("none"), LanguageModelStep)


# ------------------------------------------------------------------ cache equals recompute


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_greedy_with_cache_equals_recomputing_without_cache(positional):
    model = _model(positional)
    prompt = _prompt(3, 5)
    out = generate(model, prompt, max_new_tokens=16, temperature=0)
    assert out.shape == (3, 21)
    assert out[:, :5].equal(prompt)
    assert out.equal(_uncached(model, prompt, 16, temperature=0))
    assert greedy_generate(model, prompt, max_new_tokens=16).equal(out)
    assert len(set(out[:, 5:].flatten().tolist())) > 2  # not a degenerate repeat


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_sampling_with_cache_equals_recomputing_without_cache(positional):
    model = _model(positional)
    prompt = _prompt(2, 4)
    sampling = {"temperature": 1.3, "top_k": 8, "top_p": 0.9}
    out = generate(model, prompt, max_new_tokens=12, generator=_seeded(5), **sampling)
    reference = _uncached(model, prompt, 12, generator=_seeded(5), **sampling)
    assert out.equal(reference)


@pytest.mark.parametrize("positional", ["learned", "rope", "alibi", "relative"])
def test_left_padded_batch_equals_each_prompt_alone(positional):
    model = _model(positional)
    lengths = [3, 7, 5]
    prompts = [_prompt(1, n, seed=n)[0] for n in lengths]
    width = max(lengths)
    batch = torch.zeros(len(prompts), width, dtype=torch.long)  # pad id 0, on the left
    padding_mask = torch.zeros(len(prompts), width, dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        batch[row, width - len(prompt) :] = prompt
        padding_mask[row, width - len(prompt) :] = True
    out = generate(model, batch, max_new_tokens=10, temperature=0, padding_mask=padding_mask)
    for row, prompt in enumerate(prompts):
        alone = generate(model, prompt.unsqueeze(0), max_new_tokens=10, temperature=0)
        assert out[row, width:].equal(alone[0, len(prompt) :]), f"row {row}"


def test_a_generated_token_equal_to_the_models_pad_id_stays_a_real_token():
    # DecoderLM infers padding from pad_id when no mask is given; generation must not
    # let a produced pad id be treated as padding.
    model = _model("learned", pad_id=3)
    prompt = _prompt(2, 5, seed=3)
    out = generate(model, prompt, max_new_tokens=16, temperature=0)
    assert (out[:, 5:-1] == 3).any()  # the case under test occurs (and is fed back)
    assert out.equal(_uncached(model, prompt, 16, temperature=0))


# ------------------------------------------------------------------ sampling behaviour


def test_top_k_one_equals_greedy():
    model = _model("rope")
    prompt = _prompt(3, 4)
    greedy = generate(model, prompt, max_new_tokens=15, temperature=0)
    sampled = generate(model, prompt, max_new_tokens=15, top_k=1, generator=_seeded(0))
    assert sampled.equal(greedy)


def test_tiny_temperature_approaches_greedy():
    model = _model("alibi")
    prompt = _prompt(3, 4)
    greedy = generate(model, prompt, max_new_tokens=15, temperature=0)
    cold = generate(model, prompt, max_new_tokens=15, temperature=1e-4, generator=_seeded(0))
    assert cold.equal(greedy)


def test_same_seed_reproduces_and_another_seed_differs():
    model = _model("learned")
    prompt = _prompt(2, 4)

    def sample(seed):
        return generate(model, prompt, max_new_tokens=20, generator=_seeded(seed))

    assert sample(7).equal(sample(7))
    assert not sample(7).equal(sample(8))


def _frequencies(samples, vocab):
    return torch.bincount(samples.flatten(), minlength=vocab).double()


@pytest.mark.parametrize(
    "sampling, expected",
    [
        ({}, [0.4, 0.25, 0.2, 0.1, 0.05]),
        ({"temperature": 2.0}, [p**0.5 for p in (0.4, 0.25, 0.2, 0.1, 0.05)]),
        ({"top_k": 2}, [0.4, 0.25, 0, 0, 0]),
        ({"top_p": 0.8}, [0.4, 0.25, 0.2, 0, 0]),  # 0.4 + 0.25 < 0.8 <= 0.85
        ({"top_k": 4, "top_p": 0.5, "temperature": 1.0}, [0.4, 0.25, 0, 0, 0]),
    ],
    ids=["plain", "temperature-2", "top-k-2", "top-p-0.8", "top-k-then-top-p"],
)
def test_sampling_frequencies_match_the_processed_softmax(sampling, expected):
    probs = torch.tensor([0.4, 0.25, 0.2, 0.1, 0.05])
    model = ScriptedLM(logits=probs.log(), vocab_size=5)
    prompt = torch.zeros(4000, 1, dtype=torch.long)
    out = generate(model, prompt, max_new_tokens=5, generator=_seeded(0), **sampling)
    counts = _frequencies(out[:, 1:], 5)
    expected = torch.tensor(expected, dtype=torch.double)
    expected = expected / expected.sum() * counts.sum()
    assert counts[expected == 0].sum() == 0  # filtered tokens never appear
    seen = expected > 0
    chi2 = float(((counts[seen] - expected[seen]) ** 2 / expected[seen]).sum())
    dof = int(seen.sum()) - 1
    assert chi2 < 20.0 + 3 * dof, f"chi-square {chi2:.1f} with {dof} degrees of freedom"


# ------------------------------------------------------------------ EOS


def _script_with_eos():
    row0 = [4, 5, 6, EOS, 7, 8, 9, 4]  # EOS at step 3, then junk that must be ignored
    row1 = [4, 5, 6, 7, 8, 9, 4, 5]  # never ends
    return [row0, row1]


def test_finished_row_keeps_emitting_eos_and_the_other_continues():
    model = ScriptedLM(_script_with_eos())
    prompt = torch.full((2, 2), 2)
    out = generate(model, prompt, max_new_tokens=8, temperature=0, eos_id=EOS)
    assert out[0, 2:].tolist() == [4, 5, 6, EOS, EOS, EOS, EOS, EOS]
    assert out[1, 2:].tolist() == [4, 5, 6, 7, 8, 9, 4, 5]


def test_finished_rows_can_be_padded_with_pad_id():
    model = ScriptedLM(_script_with_eos())
    prompt = torch.full((2, 2), 2)
    out = generate(model, prompt, max_new_tokens=8, temperature=0, eos_id=EOS, pad_id=0)
    assert out[0, 2:].tolist() == [4, 5, 6, EOS, 0, 0, 0, 0]
    assert out[1, 2:].tolist() == [4, 5, 6, 7, 8, 9, 4, 5]


def test_pad_id_equal_to_eos_id():
    model = ScriptedLM(_script_with_eos())
    out = generate(
        model, torch.full((2, 2), 2), max_new_tokens=8, temperature=0, eos_id=EOS, pad_id=EOS
    )
    assert out[0, 2:].tolist() == [4, 5, 6, EOS, EOS, EOS, EOS, EOS]


def test_stops_early_when_every_row_is_done():
    script = _script_with_eos()
    script[1] = [4, EOS, 7, 7, 7, 7, 7, 7]  # row 1 ends first, row 0 at step 3
    model = ScriptedLM(script)
    out = generate(model, torch.full((2, 2), 2), max_new_tokens=8, temperature=0, eos_id=EOS)
    assert out[:, 2:].tolist() == [[4, 5, 6, EOS], [4, EOS, EOS, EOS]]
    assert len(model.calls) == 4  # the prompt, then one call per token before the last


def test_without_eos_generation_runs_to_max_new_tokens():
    model = ScriptedLM(_script_with_eos())
    out = generate(model, torch.full((2, 2), 2), max_new_tokens=6, temperature=0, eos_id=V - 1)
    assert out.shape == (2, 8)
    assert len(model.calls) == 6  # the last token is returned, never fed


def test_each_step_feeds_the_newest_tokens_marked_real():
    model = ScriptedLM(_script_with_eos())
    prompt = torch.tensor([[0, 2, 3], [2, 3, 4]])
    padding_mask = torch.tensor([[False, True, True], [True, True, True]])
    out = generate(model, prompt, max_new_tokens=4, temperature=0, padding_mask=padding_mask)
    (first, first_mask), *steps = model.calls
    assert first.equal(prompt) and first_mask is padding_mask
    for k, (tokens, mask) in enumerate(steps):
        assert tokens.equal(out[:, 3 + k : 4 + k])
        assert mask.shape == (2, 1) and mask.all()


def test_zero_new_tokens_returns_the_prompt_without_running_the_model():
    model = ScriptedLM(_script_with_eos())
    prompt = _prompt(2, 3)
    assert generate(model, prompt, max_new_tokens=0).equal(prompt)
    assert model.calls == []


# ------------------------------------------------------------------ stream


def test_stream_yields_each_row_of_new_tokens_as_generate_returns_them():
    model = _model("relative")
    prompt = _prompt(2, 4)
    tokens = list(stream(model, prompt, max_new_tokens=7, generator=_seeded(3)))
    assert len(tokens) == 7 and all(t.shape == (2,) and t.dtype == torch.long for t in tokens)
    out = generate(model, prompt, max_new_tokens=7, generator=_seeded(3))
    assert torch.stack(tokens, dim=1).equal(out[:, 4:])


def test_stream_is_lazy_and_leaves_the_callers_grad_mode_alone():
    model = ScriptedLM(_script_with_eos())
    tokens = stream(model, torch.full((2, 2), 2), max_new_tokens=3, temperature=0)
    assert model.calls == []  # nothing runs before the first token is asked for
    next(tokens)
    assert torch.is_grad_enabled()  # between tokens, the caller's mode is back
    assert len(list(tokens)) == 2


def test_stream_checks_its_arguments_when_called():
    model = ScriptedLM(_script_with_eos())
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0"):
        stream(model, torch.full((2, 2), 2), max_new_tokens=-1)


# ------------------------------------------------------------------ max_len and bad arguments


def test_max_len_is_checked_before_generating():
    model = _model("learned")  # max_len=48 learned positions
    with pytest.raises(ValueError) as error:
        generate(model, _prompt(1, 40), max_new_tokens=9, max_len=48)
    assert str(error.value) == (
        "prompt (40 tokens) + max_new_tokens (9) = 49 exceeds the model's max_len=48 "
        "(learned positions); shorten the prompt or ask for fewer tokens"
    )
    # exactly filling the positions works
    out = generate(model, _prompt(1, 40), max_new_tokens=8, max_len=48, temperature=0)
    assert out.shape == (1, 48)


def test_max_len_counts_real_tokens_of_left_padded_prompts():
    model = ScriptedLM(logits=torch.zeros(V))
    prompt = torch.zeros(2, 10, dtype=torch.long)
    padding_mask = torch.arange(10).expand(2, 10) >= torch.tensor([[4], [2]])  # 6 and 8 real
    generate(model, prompt, max_new_tokens=4, padding_mask=padding_mask, max_len=12)
    with pytest.raises(ValueError, match=r"prompt \(8 tokens\) \+ max_new_tokens \(5\) = 13"):
        generate(model, prompt, max_new_tokens=5, padding_mask=padding_mask, max_len=12)


GOOD_PROMPT = torch.full((2, 3), 2)


@pytest.mark.parametrize(
    "prompt, options, message",
    [
        (torch.zeros(2, 0, dtype=torch.long), {}, r"prompt is empty \(T = 0\).*newline"),
        (torch.zeros(0, 3, dtype=torch.long), {}, "no rows"),
        (torch.tensor([1, 2, 3]), {}, r"prompt must be a \(B, T\) tensor"),
        (torch.ones(2, 3), {}, "integer token ids"),
        (GOOD_PROMPT, {"max_new_tokens": -1}, "max_new_tokens must be >= 0, got -1"),
        (GOOD_PROMPT, {"max_new_tokens": 2.5}, "max_new_tokens must be an integer"),
        (GOOD_PROMPT, {"temperature": -1.0}, r"temperature must be >= 0 \(0 = greedy\)"),
        (GOOD_PROMPT, {"top_k": 0}, "top_k must be an integer >= 1"),
        (GOOD_PROMPT, {"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        (GOOD_PROMPT, {"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        (GOOD_PROMPT, {"eos_id": -1}, "eos_id must be a token id >= 0"),
        (GOOD_PROMPT, {"pad_id": 0}, "pad_id .* needs eos_id"),
        (GOOD_PROMPT, {"max_len": 0}, "max_len must be an integer >= 1"),
        (
            GOOD_PROMPT,
            {"padding_mask": torch.ones(2, 4, dtype=torch.bool)},
            "padding_mask must be a bool tensor of the prompt's shape",
        ),
        (
            GOOD_PROMPT,
            {"padding_mask": torch.ones(2, 3, dtype=torch.long)},
            "padding_mask must be a bool tensor",
        ),
        (
            GOOD_PROMPT,
            {"padding_mask": torch.tensor([[True, True, False], [True, True, True]])},
            "padding_mask must pad on the left",
        ),
    ],
)
def test_bad_arguments_raise_one_clear_line_before_running(prompt, options, message):
    model = ScriptedLM(logits=torch.zeros(V))
    options = {"max_new_tokens": 3, **options}
    with pytest.raises(ValueError, match=message) as error:
        generate(model, prompt, **options)
    assert "\n" not in str(error.value)
    assert model.calls == []


def test_next_token_greedy_ignores_filters():
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, -1.0, math.log(2)]])
    assert next_token(logits, temperature=0, top_k=2, top_p=0.1).tolist() == [1, 0]


def test_generated_tokens_are_ordinary_tensors_that_train():
    """Decoding runs in inference mode inside; what it hands out must not be an
    inference tensor, or feeding it back to a model that trains would fail."""
    model = _model("learned")
    prompt = _prompt(2, 3)
    out = generate(model, prompt, max_new_tokens=4, temperature=0.0)
    streamed = list(stream(model, prompt, max_new_tokens=4, temperature=0.0))
    assert not out.is_inference() and not any(t.is_inference() for t in streamed)
    model.train()
    model(out[:, :-1], labels=out[:, 1:]).loss.backward()  # an ordinary training step
    assert model.embedding.token.weight.grad is not None
