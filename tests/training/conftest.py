"""Shared fixtures: a small text corpus and a tiny run config."""

from __future__ import annotations

import pytest

from attnkit.config import DataConfig, DecoderLMConfig, RunConfig, TrainConfig

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
) * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def tiny_config(corpus, **train) -> RunConfig:
    """A model of ~20k parameters that trains a step in a few milliseconds."""
    options = {
        "steps": 8,
        "batch_size": 4,
        "lr": 3e-3,
        "warmup_steps": 2,
        "eval_every": 0,
        "eval_batches": 2,
        "log_every": 1,
        "save_every": 1,
        "device": "cpu",
        "seed": 3,
    }
    options.update(train)
    return RunConfig(
        model=DecoderLMConfig(d_model=16, num_heads=2, num_layers=2, dropout=0.1, max_len=32),
        data=DataConfig(train=str(corpus), block_size=16),
        train=TrainConfig(**options),
    )
