"""Token-count batching and the translation task's tensors."""

from __future__ import annotations

import random

import pytest
import torch

from attnkit.config import DataConfig
from attnkit.data.batching import TokenBatches
from attnkit.training.tasks import IGNORE_INDEX, TranslationTask


def lengths(n=300, seed=0):
    """Source and target lengths that go together, as in real translations."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        target = rng.randint(1, 40)
        pairs.append((max(1, target + rng.randint(-3, 3)), target))
    return pairs


def test_token_batches_cover_every_pair_once_per_epoch_within_budget():
    pairs = lengths()
    batches = TokenBatches(pairs, 200, seed=1)
    epoch = [batches.batch(i) for i in range(len(batches))]
    flat = sorted(i for rows in epoch for i in rows)
    assert flat == list(range(len(pairs)))
    for rows in epoch:
        padded = len(rows) * max(max(pairs[i]) for i in rows)
        assert padded <= 200 or len(rows) == 1
    # similar lengths together: little padding overall
    real = sum(sum(pairs[i]) / 2 for rows in epoch for i in rows)
    padded = sum(len(rows) * max(max(pairs[i]) for i in rows) for rows in epoch)
    assert real / padded > 0.6


def test_token_batches_are_a_function_of_the_index_and_shard_by_rank():
    batches = TokenBatches(lengths(), 200, seed=1)
    assert batches.batch(5) == TokenBatches(lengths(), 200, seed=1).batch(5)
    n = len(batches)
    first = [batches.batch(i) for i in range(n)]
    second = [batches.batch(n + i) for i in range(n)]
    assert first != second and sorted(map(tuple, first)) == sorted(map(tuple, second))
    rows = batches.batch(3)
    shards = [batches.batch(3, rank=r, world_size=2) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == sorted(rows)


def test_collate_builds_teacher_forcing_tensors(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"a b c {i % 7}\tx y {i % 5}\n" for i in range(200)), encoding="utf-8")
    task = TranslationTask(
        DataConfig(train=str(tsv), tokenizer="word", vocab_size=50, block_size=16),
        seed=0,
        batch_tokens=64,
    )
    batch = task.collate([([5, 6, 7], [8, 9]), ([5], [8, 9, 10])])
    assert batch["src"].tolist() == [[5, 6, 7, 2], [5, 2, 0, 0]]  # source + EOS, padded
    assert batch["tgt"].tolist() == [[1, 8, 9, 0], [1, 8, 9, 10]]  # BOS + target
    assert batch["labels"].tolist() == [[8, 9, 2, IGNORE_INDEX], [8, 9, 10, 2]]
    micro = task.micro_batches(0, batch_size=0, accumulate=2, rank=0, world_size=1)
    assert len(micro) == 2
    assert task.vocab_sizes["src_vocab_size"] == task.vocab_sizes["tgt_vocab_size"]  # joint
    assert len(task.valid_pairs) == 20  # the last 10 % held out


def test_too_few_pairs_for_the_micro_batches_pad_with_ignored_rows(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("a b\tb a\n" * 30, encoding="utf-8")
    task = TranslationTask(
        DataConfig(train=str(tsv), tokenizer="word", block_size=8), seed=0, batch_tokens=3
    )
    micro = task.micro_batches(0, batch_size=0, accumulate=3, rank=0, world_size=1)
    assert len(micro) == 3
    one_pair = len(task.tokenizers.target.encode("b a")) + 1  # + EOS
    assert sum(int((m["labels"] != IGNORE_INDEX).sum()) for m in micro) == one_pair


def test_pairs_longer_than_the_block_are_dropped_and_counted(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("a b\tb a\n" * 30 + ("a " * 20 + "\tb\n") * 5, encoding="utf-8")
    task = TranslationTask(
        DataConfig(train=str(tsv), tokenizer="word", block_size=8, val_fraction=0.1),
        seed=0,
        batch_tokens=64,
    )
    assert task.stats["too_many_tokens"] >= 1
    with pytest.raises(ValueError, match="no training pairs left"):
        TranslationTask(
            DataConfig(train=str(tsv), tokenizer="word", block_size=2), seed=0, batch_tokens=64
        )
    assert torch.is_tensor(task.collate(task.train_pairs[:2])["src"])
