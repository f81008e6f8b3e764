"""The training loop: it learns, resumes bit-identically, skips non-finite updates,
stops cleanly on a signal, and refuses to mix runs."""

from __future__ import annotations

import json
import math
import signal
from collections import Counter

import pytest
import torch

from attnkit.config import ConfigError
from attnkit.training.checkpoint import load_checkpoint
from attnkit.training.rundir import load_run
from attnkit.training.trainer import Trainer, TrainingError

from .conftest import TEXT, tiny_config


class Crash(Exception):
    """Stands for the process dying right after a checkpoint was written."""


def crash_after_checkpoint(step: int):
    def callback(event):
        if event.kind == "checkpoint" and event.state.step == step:
            raise Crash

    return callback


def train_records(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["kind"] == "train"]


def unigram_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log(c / len(text)) for c in counts.values())


def final_weights(run_dir):
    return load_checkpoint(run_dir).model_state


def test_training_lowers_the_loss_and_writes_a_run(corpus, tmp_path):
    run = tmp_path / "run"
    state = Trainer(tiny_config(corpus, steps=60, eval_every=30, lr=1e-2), run).fit()
    assert state.step == 60 and state.stop_reason == "finished"
    records = train_records(run)
    # beyond letter frequencies: the model uses the context
    assert records[-1]["loss"] < unigram_entropy(TEXT) - 0.3 < records[0]["loss"]
    for name in ("config.json", "tokenizer.json", "metrics.jsonl", "checkpoints/latest.json"):
        assert (run / name).is_file(), name
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [30, 60]
    assert {"val_loss", "val_perplexity", "val_bits_per_char"} <= set(evals[0])
    loaded = load_run(run)  # rebuilt from the run's own config, best weights
    assert loaded.config.model.vocab_size == loaded.tokenizer.vocab_size
    assert loaded.checkpoint.step == state.best_step


@pytest.mark.parametrize("crash_steps", [[1], [4], [3, 6]], ids=["step1", "mid", "twice"])
def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(corpus, tmp_path, crash_steps):
    config = tiny_config(corpus, steps=8)  # dropout 0.1: the RNG state must resume too
    whole = tmp_path / "whole"
    Trainer(config, whole).fit()

    resumed = tmp_path / "resumed"
    with pytest.raises(Crash):
        Trainer(config, resumed, callbacks=[crash_after_checkpoint(crash_steps[0])]).fit()
    for later in crash_steps[1:]:
        with pytest.raises(Crash):
            Trainer(config, resumed, resume=True, callbacks=[crash_after_checkpoint(later)]).fit()
    Trainer(config, resumed, resume=True).fit()

    expected, got = train_records(whole), train_records(resumed)
    assert [r["step"] for r in got] == list(range(1, 9))  # metrics from after a crash dropped
    assert [r["loss"] for r in got] == [r["loss"] for r in expected]
    assert [r["lr"] for r in got] == [r["lr"] for r in expected]
    a, b = final_weights(whole), final_weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_model_changes_and_reports_train_changes(corpus, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2), run).fit()
    changed = tiny_config(corpus, steps=2)
    changed = type(changed)(
        model=type(changed.model)(d_model=32, num_heads=2, num_layers=2, max_len=32),
        data=changed.data,
        train=changed.train,
    )
    with pytest.raises(TrainingError, match=r"model\.d_model: 16 -> 32"):
        Trainer(changed, run, resume=True).fit()
    messages = []
    longer = tiny_config(corpus, steps=4)
    Trainer(longer, run, resume=True, callbacks=[messages.append]).fit()
    texts = [e.data["text"] for e in messages if e.kind == "message"]
    assert any("train.steps = 4 (was 2)" in t for t in texts)


def test_new_run_in_a_used_directory_and_resume_without_a_run_are_errors(corpus, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="nothing to resume"):
        Trainer(tiny_config(corpus), run, resume=True).fit()
    Trainer(tiny_config(corpus, steps=1), run).fit()
    with pytest.raises(TrainingError, match="already holds a run; pass --resume"):
        Trainer(tiny_config(corpus, steps=1), run).fit()


def poison_batches(indices):
    """Make the loss NaN for the given batch indices (as a corrupt batch would)."""
    from attnkit.training.tasks import LanguageModelTask

    original = LanguageModelTask.loss

    def loss(model, batch, *, label_smoothing):
        total, count = original(model, batch, label_smoothing=label_smoothing)
        if loss.calls in indices:
            total = total * float("nan")
        loss.calls += 1
        return total, count

    loss.calls = 0
    return staticmethod(loss)


def test_non_finite_updates_are_skipped_and_never_saved(corpus, tmp_path, monkeypatch):
    from attnkit.training.tasks import LanguageModelTask

    monkeypatch.setattr(LanguageModelTask, "loss", poison_batches({2, 3}))
    run = tmp_path / "run"
    events = []
    state = Trainer(tiny_config(corpus, steps=6), run, callbacks=[events.append]).fit()
    assert state.step == 6 and state.skipped_updates == 2 and state.batch_index == 8
    skips = [e for e in events if e.kind == "skip"]
    assert [e.data["step"] for e in skips] == [2, 2]  # the step does not advance
    weights = load_checkpoint(run).model_state
    assert all(torch.isfinite(w).all() for w in weights.values())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "skip" for r in lines) == 2


def test_too_many_non_finite_updates_stop_training_with_a_clear_message(
    corpus, tmp_path, monkeypatch
):
    from attnkit.training.tasks import LanguageModelTask

    monkeypatch.setattr(LanguageModelTask, "loss", poison_batches(set(range(3, 100))))
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"non-finite 3 updates in a row .*lower train\.lr"):
        Trainer(tiny_config(corpus, steps=10, max_nonfinite=3), run).fit()
    checkpoint = load_checkpoint(run)
    assert checkpoint.step == 3  # the last good one
    assert all(torch.isfinite(w).all() for w in checkpoint.model_state.values())


def test_sigterm_finishes_the_step_saves_and_stops(corpus, tmp_path):
    run = tmp_path / "run"

    def send_sigterm(event):
        if event.kind == "log" and event.state.step == 3:
            signal.raise_signal(signal.SIGTERM)

    state = Trainer(
        tiny_config(corpus, steps=50, save_every=0), run, callbacks=[send_sigterm]
    ).fit()
    assert state.stop_reason == "interrupted by SIGTERM" and state.step == 3
    assert load_checkpoint(run).step == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_early_stopping(corpus, tmp_path, monkeypatch):
    from attnkit.training.tasks import LanguageModelTask

    losses = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    monkeypatch.setattr(
        LanguageModelTask, "evaluate", lambda self, model, **kw: {"loss": next(losses)}
    )
    state = Trainer(tiny_config(corpus, steps=20, eval_every=2, patience=2), tmp_path / "r").fit()
    assert state.step == 8 and state.best_step == 4
    assert state.stop_reason.startswith("early stop: no improvement in 2 evaluations")


def test_learned_positions_shorter_than_the_block_are_a_config_error(corpus):
    with pytest.raises(ConfigError, match=r"data\.block_size=64 exceeds model\.max_len=32"):
        tiny_config(corpus).__class__(
            model=tiny_config(corpus).model,
            data=type(tiny_config(corpus).data)(train=str(corpus), block_size=64),
        )


def test_time_budget_stops_with_a_final_evaluation_and_checkpoint(corpus, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(corpus, steps=100_000, max_minutes=0.02, schedule="noam")
    state = Trainer(config, run).fit()
    assert state.stop_reason == "time budget of 0.02 minutes reached"
    assert 0 < state.step < 100_000 and state.seconds >= 1.2
    assert load_checkpoint(run).step == state.step
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["kind"] == "eval" and lines[-1]["step"] == state.step
