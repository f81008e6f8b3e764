"""Faults around a training run, and how it resumes: stopped by SIGINT or SIGTERM at any
point, its latest checkpoint damaged or its pointer lost, its data changed. Each resumed run
must end with the weights (and losses) of an uninterrupted one, bit for bit."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from attnkit.training.checkpoint import load_checkpoint
from attnkit.training.trainer import Trainer, TrainingError

from .conftest import TEXT, tiny_config

# Checkpoints only at evaluations (steps 4, 8, 10) and interrupts: a resumed run must
# start from the checkpoint the interrupt itself wrote.
SPARSE = {"steps": 10, "eval_every": 4, "save_every": 0}


class Crash(Exception):
    """Stands for the process dying right after a checkpoint was written."""


def crash_after_checkpoint(step: int):
    def callback(event):
        if event.kind == "checkpoint" and event.state.step == step:
            raise Crash

    return callback


def send_signal(signum: signal.Signals, kind: str, step: int):
    """A callback that delivers ``signum`` to this process at the event ``kind`` of ``step``."""

    def callback(event):
        if event.kind == kind and event.state.step == step:
            signal.raise_signal(signum)

    return callback


def records(run_dir, kind="train"):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["kind"] == kind]


def messages_of(events):
    return [e.data["text"] for e in events if e.kind == "message"]


def assert_same_run(expected_dir, got_dir):
    """Same losses, learning rates, evaluations and final weights, bit for bit."""
    expected, got = records(expected_dir), records(got_dir)
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    assert [r["loss"] for r in got] == [r["loss"] for r in expected]
    assert [r["lr"] for r in got] == [r["lr"] for r in expected]
    evals = [(r["step"], r["val_loss"]) for r in records(got_dir, "eval")]
    assert evals == [(r["step"], r["val_loss"]) for r in records(expected_dir, "eval")]
    a, b = load_checkpoint(expected_dir).model_state, load_checkpoint(got_dir).model_state
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def whole(corpus, tmp_path):
    """The uninterrupted run of SPARSE (dropout on: the random state must resume too)."""
    run = tmp_path / "whole"
    Trainer(tiny_config(corpus, **SPARSE), run).fit()
    return run


@pytest.mark.parametrize(
    "stops",
    [
        [(signal.SIGINT, "log", 1)],  # before the first evaluation: no best loss yet
        [(signal.SIGTERM, "eval", 4)],  # in the middle of an evaluation's bookkeeping
        [(signal.SIGINT, "log", 6)],  # between checkpoints
        [(signal.SIGTERM, "log", 3), (signal.SIGINT, "log", 9)],  # twice
    ],
    ids=["before-first-eval", "at-eval", "between-checkpoints", "twice"],
)
def test_a_run_stopped_by_a_signal_resumes_bit_for_bit(corpus, tmp_path, whole, stops):
    config = tiny_config(corpus, **SPARSE)
    run = tmp_path / "run"
    for index, (signum, kind, step) in enumerate(stops):
        trainer = Trainer(
            config, run, resume=index > 0, callbacks=[send_signal(signum, kind, step)]
        )
        state = trainer.fit()
        assert state.stop_reason == f"interrupted by {signum.name}" and state.step == step
        saved = load_checkpoint(run)
        assert saved.step == step and saved.trainer_state["stop_reason"] == state.stop_reason
        if step < SPARSE["eval_every"]:
            assert state.best_loss is None and saved.trainer_state["best_loss"] is None
    state = Trainer(config, run, resume=True).fit()
    assert state.stop_reason == "finished" and state.step == SPARSE["steps"]
    assert_same_run(whole, run)


def test_resume_past_a_damaged_latest_checkpoint_is_bit_for_bit(corpus, tmp_path):
    config = tiny_config(corpus, steps=8, keep_last=10)  # a checkpoint after every step
    whole = tmp_path / "whole"
    Trainer(config, whole).fit()
    run = tmp_path / "run"
    with pytest.raises(Crash):
        Trainer(config, run, callbacks=[crash_after_checkpoint(6)]).fit()
    damaged = run / "checkpoints" / "step-00000006" / "model.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:100])

    events = []
    state = Trainer(config, run, resume=True, callbacks=[events.append]).fit()
    assert state.step == 8
    (text,) = [t for t in messages_of(events) if "newest intact" in t]
    assert f"{damaged} is corrupt or truncated" in text
    assert text.endswith("resuming from step 5, the newest intact checkpoint")
    assert_same_run(whole, run)


def test_a_damaged_optimizer_file_sends_resume_to_the_newest_intact_checkpoint(corpus, tmp_path):
    config = tiny_config(corpus, steps=6, keep_last=10)
    whole = tmp_path / "whole"
    Trainer(config, whole).fit()
    run = tmp_path / "run"
    with pytest.raises(Crash):
        Trainer(config, run, callbacks=[crash_after_checkpoint(4)]).fit()
    damaged = run / "checkpoints" / "step-00000004" / "optimizer.safetensors"
    damaged.write_bytes(b"")

    events = []
    Trainer(config, run, resume=True, callbacks=[events.append]).fit()
    (text,) = [t for t in messages_of(events) if "newest intact" in t]
    assert str(damaged) in text and "resuming from step 3" in text
    assert_same_run(whole, run)


def test_resume_without_latest_json_finds_the_checkpoints_kept(corpus, tmp_path):
    config = tiny_config(corpus, steps=6, keep_last=10)
    whole = tmp_path / "whole"
    Trainer(config, whole).fit()
    run = tmp_path / "run"
    with pytest.raises(Crash):
        Trainer(config, run, callbacks=[crash_after_checkpoint(4)]).fit()
    (run / "checkpoints" / "latest.json").unlink()

    with pytest.raises(TrainingError, match="already holds a run; pass --resume"):
        Trainer(config, run).fit()  # still a run, not an empty directory
    events = []
    Trainer(config, run, resume=True, callbacks=[events.append]).fit()
    assert any(
        "has no checkpoints/latest.json: resuming from step 4, the newest checkpoint it keeps" in t
        for t in messages_of(events)
    )
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 6
    assert_same_run(whole, run)


def test_resume_with_no_intact_checkpoint_is_one_clear_error(corpus, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2, keep_last=10), run).fit()
    for model_file in (run / "checkpoints").glob("step-*/model.safetensors"):
        model_file.write_bytes(b"")
    with pytest.raises(TrainingError) as exc:
        Trainer(tiny_config(corpus, steps=4), run, resume=True).fit()
    message = str(exc.value)
    assert "\n" not in message
    assert "step-00000002/model.safetensors is corrupt or truncated" in message
    assert "no checkpoint of this run is intact" in message


# ---------------------------------------------------------------------- the data changed


def snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_resume_refuses_data_that_changed_and_names_what(corpus, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2), run).fit()
    saved = load_checkpoint(run).trainer_state["data_fingerprint"]
    assert saved["data.train"]["bytes"] == len(TEXT.encode("utf-8"))

    corpus.write_text(TEXT + "All:\nSpeak, speak.\n", encoding="utf-8")  # known characters
    before = snapshot(run)
    with pytest.raises(TrainingError) as exc:
        Trainer(tiny_config(corpus, steps=4), run, resume=True).fit()
    message = str(exc.value)
    assert "\n" not in message
    assert f"cannot resume {run}: the training data changed since step 2" in message
    assert f"data.train corpus.txt: {len(TEXT.encode()):,} bytes, sha256" in message
    assert "allow_data_change=True" in message and "another directory" in message
    assert snapshot(run) == before  # refused before anything was written

    events = []
    state = Trainer(
        tiny_config(corpus, steps=4),
        run,
        resume=True,
        allow_data_change=True,
        callbacks=[events.append],
    ).fit()
    assert state.step == 4
    assert any(
        t.startswith("resuming on changed data: data.train corpus.txt") for t in messages_of(events)
    )
    # the checkpoints now describe the new data: the next resume goes on without a flag
    Trainer(tiny_config(corpus, steps=5), run, resume=True).fit()


def test_resume_on_other_data_files_needs_allow_data_change(corpus, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2), run).fit()
    other = tmp_path / "more.txt"
    other.write_text(TEXT * 2, encoding="utf-8")
    moved = tiny_config(corpus, steps=4)
    moved = type(moved)(
        model=moved.model,
        data=type(moved.data)(train=str(other), block_size=16),
        train=moved.train,
    )
    with pytest.raises(TrainingError) as exc:
        Trainer(moved, run, resume=True).fit()
    assert f"on other data files (data.train: '{corpus}' -> '{other}')" in str(exc.value)
    assert "allow_data_change=True" in str(exc.value)

    Trainer(moved, run, resume=True, allow_data_change=True).fit()
    assert json.loads((run / "config.json").read_text())["data"]["train"] == str(other)

    # how the data is read is not a data file: still refused, whatever the flag
    resized = type(moved)(
        model=moved.model, data=type(moved.data)(train=str(other), block_size=8), train=moved.train
    )
    with pytest.raises(TrainingError, match=r"different model or data \(data\.block_size: 16 -> 8"):
        Trainer(resized, run, resume=True, allow_data_change=True).fit()


def test_a_checkpoint_without_a_fingerprint_resumes_with_a_note(corpus, tmp_path):
    """Checkpoints written before fingerprints existed still resume."""
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2), run).fit()
    latest = run / "checkpoints" / "step-00000002" / "state.json"
    state = json.loads(latest.read_text())
    del state["trainer_state"]["data_fingerprint"]
    latest.write_text(json.dumps(state))
    events = []
    Trainer(tiny_config(corpus, steps=3), run, resume=True, callbacks=[events.append]).fit()
    assert any("holds no data fingerprint" in t for t in messages_of(events))
