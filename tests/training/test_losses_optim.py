"""Losses, parameter groups, schedules and batches."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from attnkit.config import ConfigError, DecoderLMConfig, TrainConfig
from attnkit.data.batching import LMBatches
from attnkit.models import DecoderLM
from attnkit.training.losses import IGNORE_INDEX, token_cross_entropy
from attnkit.training.optim import build_optimizer, learning_rate, parameter_groups


def test_token_loss_is_a_sum_over_real_tokens():
    logits, targets = torch.randn(2, 5, 7), torch.randint(7, (2, 5))
    targets[1, 3:] = IGNORE_INDEX
    total, count = token_cross_entropy(logits, targets)
    assert count == 8
    real = targets != IGNORE_INDEX
    expected = F.cross_entropy(logits[real], targets[real], reduction="sum")
    torch.testing.assert_close(total, expected)


def test_label_smoothing_ignores_padding_and_all_padding_is_finite():
    logits, targets = torch.randn(2, 5, 7), torch.randint(7, (2, 5))
    padded = targets.clone()
    padded[1] = IGNORE_INDEX
    smoothed, count = token_cross_entropy(logits, padded, label_smoothing=0.1)
    alone, _ = token_cross_entropy(logits[:1], targets[:1], label_smoothing=0.1)
    torch.testing.assert_close(smoothed, alone)  # the padded row adds nothing
    assert count == 5
    empty, zero = token_cross_entropy(
        logits, torch.full_like(targets, IGNORE_INDEX), label_smoothing=0.1
    )
    assert zero == 0 and torch.isfinite(empty) and empty == 0


def test_accumulated_micro_batches_give_the_big_batch_gradient():
    torch.manual_seed(0)
    model = DecoderLM(
        DecoderLMConfig(vocab_size=11, d_model=16, num_heads=2, num_layers=1, dropout=0.0)
    )
    tokens, targets = torch.randint(11, (4, 6)), torch.randint(11, (4, 6))
    targets[0, 4:] = IGNORE_INDEX  # micro-batches with different numbers of real tokens
    targets[3, 1:] = IGNORE_INDEX

    def grads(chunks):
        model.zero_grad()
        total = int((targets != IGNORE_INDEX).sum())
        for x, y in chunks:
            loss, _ = token_cross_entropy(model(x).logits, y)
            (loss / total).backward()
        return [p.grad.clone() for p in model.parameters()]

    one = grads([(tokens, targets)])
    split = grads(zip(tokens.chunk(2), targets.chunk(2), strict=True))
    for a, b in zip(one, split, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_no_weight_decay_on_norms_biases_and_embeddings():
    model = DecoderLM(DecoderLMConfig(vocab_size=11, d_model=16, num_heads=2, num_layers=1))
    decay, keep = parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in keep["params"]}
    assert keep["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    assert "embedding.token.weight" in kept and "embedding.position.weight" in kept
    assert any("norm" in n for n in kept) and any(n.endswith("bias") for n in kept)
    assert "decoder.layers.0.self_attn.q_proj.weight" in decayed
    assert not any("norm" in n or n.endswith("bias") for n in decayed)
    # the tied output projection is the embedding: counted once, not decayed
    total = sum(p.numel() for p in decay["params"] + keep["params"])
    assert total == sum(p.numel() for p in model.parameters())
    optimizer = build_optimizer(model, TrainConfig())
    assert len(optimizer.param_groups) == 2


@pytest.mark.parametrize("schedule", ["cosine", "noam", "constant"])
def test_schedules_warm_up_linearly_and_peak_at_lr(schedule):
    config = TrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10, schedule=schedule)
    rates = [learning_rate(s, config) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[9] == pytest.approx(1e-3)
    assert max(rates) == pytest.approx(1e-3)
    if schedule == "cosine":
        assert rates[-1] == pytest.approx(1e-4, rel=1e-6)
        assert all(a >= b for a, b in itertools.pairwise(rates[9:]))
    if schedule == "noam":  # inverse square root after warm-up
        assert rates[39] == pytest.approx(1e-3 * math.sqrt(10 / 40))
    if schedule == "constant":
        assert set(rates[9:]) == {1e-3}


def test_anneal_by_time_ends_the_cosine_when_the_time_budget_runs_out():
    config = TrainConfig(
        steps=1000, lr=1e-3, min_lr=1e-4, warmup_steps=10, max_minutes=2, anneal_by_time=True
    )
    # A slow machine: step 100 of 1000, but the 2-minute budget is used up.
    assert learning_rate(100, config, elapsed_seconds=120) == pytest.approx(1e-4)
    halfway = learning_rate(100, config, elapsed_seconds=60)
    assert halfway == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4), rel=1e-6)  # cos(π/2) = 0
    # A fast machine: the steps run out first, as without the option.
    plain = TrainConfig(steps=1000, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert learning_rate(900, config, elapsed_seconds=1) == learning_rate(900, plain)


@pytest.mark.parametrize(
    "options",
    [{"anneal_by_time": True}, {"anneal_by_time": True, "max_minutes": 5, "schedule": "noam"}],
)
def test_anneal_by_time_needs_a_budget_and_the_cosine(options):
    with pytest.raises(ConfigError, match="anneal_by_time"):
        TrainConfig(**options)


def test_lm_batches_are_a_function_of_the_index_and_shard_exactly():
    tokens = torch.arange(1000)
    batches = LMBatches(tokens, 8, seed=5)
    x, y = batches.batch(3, 6)
    x2, _ = batches.batch(3, 6)
    assert torch.equal(x, x2)
    assert torch.equal(y[:, :-1], x[:, 1:])  # targets are the inputs shifted by one
    halves = [batches.batch(3, 6, rank=r, world_size=2)[0] for r in range(2)]
    assert torch.equal(torch.cat(halves), x)
    assert not torch.equal(batches.batch(4, 6)[0], x)
    swept = torch.cat([b[0] for b in batches.sequential(10)])
    assert torch.equal(swept.flatten(), tokens[: swept.numel()])


def test_too_small_text_is_a_clear_error():
    with pytest.raises(ValueError, match=r"too small: 5 tokens.*block_size \+ 1 = 9"):
        LMBatches(torch.arange(5), 8)
