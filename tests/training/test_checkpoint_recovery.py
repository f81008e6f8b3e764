"""Getting past a damaged checkpoint: pick one by step, find the newest intact one, read
only the weights, survive a lost latest.json — and load_run's refusal that names both the
damaged checkpoint and the one to use instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attnkit.training.checkpoint import (
    CheckpointError,
    checkpoint_steps,
    load_checkpoint,
    newest_intact_checkpoint,
    save_checkpoint,
)
from attnkit.training.rundir import load_run
from attnkit.training.trainer import Trainer

from .conftest import tiny_config


def saved_run(root: Path, steps=(10, 20, 30)) -> Path:
    """A run directory with a checkpoint (weights, optimizer, RNG) at each of ``steps``."""
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    for step in steps:
        model(torch.ones(1, 4)).sum().backward()
        optimizer.step()  # an optimizer state to save
        with torch.no_grad():
            model.weight.fill_(step)  # weights that tell the checkpoints apart
        save_checkpoint(
            root,
            step=step,
            model=model,
            optimizer=optimizer,
            trainer_state={"step": step},
            rng_state={"torch": torch.get_rng_state()},
            keep_last=None,
        )
    return root


def damage(run: Path, step: int, name: str = "model.safetensors") -> Path:
    path = run / "checkpoints" / f"step-{step:08d}" / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return path


def test_a_checkpoint_is_picked_by_step(tmp_path):
    run = saved_run(tmp_path)
    assert checkpoint_steps(run) == [30, 20, 10]
    assert load_checkpoint(run, step=20).step == 20
    assert float(load_checkpoint(run, step=10).model_state["weight"][0, 0]) == 10
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(run, step=25)
    assert str(exc.value) == f"{run} has no checkpoint of step 25 (steps kept: 10, 20, 30)"
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        load_checkpoint(run, step=-1)
    assert checkpoint_steps(tmp_path / "absent") == []


def test_newest_intact_checkpoint_skips_damaged_ones(tmp_path):
    run = saved_run(tmp_path)
    damage(run, 30)
    damage(run, 20, "optimizer.safetensors")
    assert newest_intact_checkpoint(run).step == 10  # resuming needs every file
    assert newest_intact_checkpoint(run, weights_only=True).step == 20  # using needs weights
    damage(run, 10, "rng.safetensors")
    assert newest_intact_checkpoint(run) is None


def test_weights_only_reads_past_a_damaged_optimizer_file(tmp_path):
    run = saved_run(tmp_path)
    optimizer_file = damage(run, 30, "optimizer.safetensors")
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors is corrupt or truncated"):
        load_checkpoint(run)
    (run / "checkpoints" / "step-00000030" / "rng.safetensors").unlink()
    checkpoint = load_checkpoint(run, weights_only=True)
    assert checkpoint.step == 30 and checkpoint.optimizer_state is None
    assert checkpoint.rng_state == {} and "weight" in checkpoint.model_state
    optimizer_file.unlink()
    assert load_checkpoint(run, weights_only=True).step == 30


def test_a_lost_latest_json_falls_back_to_the_newest_step_directory(tmp_path):
    run = saved_run(tmp_path)
    (run / "checkpoints" / "latest.json").unlink()
    assert load_checkpoint(run).step == 30
    assert load_checkpoint(run / "checkpoints").step == 30  # given checkpoints/ itself
    with pytest.raises(CheckpointError, match=r"has no best checkpoint: no checkpoints/best\.json"):
        load_checkpoint(run, which="best")


# ---------------------------------------------------------------------- load_run


@pytest.fixture
def lm_run(corpus, tmp_path):
    """A tiny trained language model with checkpoints at steps 2, 3 and 4 (best: 4)."""
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=4, eval_every=2, keep_last=3, lr=1e-2), run).fit()
    assert checkpoint_steps(run) == [4, 3, 2]
    assert load_checkpoint(run, which="best").step == 4
    return run


def test_load_run_refuses_a_damaged_checkpoint_naming_the_newest_intact_one(lm_run):
    damaged = damage(lm_run, 4)
    for which in ("best", "latest"):
        with pytest.raises(CheckpointError) as exc:
            load_run(lm_run, which=which)
        message = str(exc.value)
        assert "\n" not in message
        assert message.startswith(f"{damaged} is corrupt or truncated")
        assert message.endswith("; the newest intact checkpoint is step 3: pass checkpoint=3")
    assert load_run(lm_run, checkpoint=3).checkpoint.step == 3
    assert load_run(lm_run, checkpoint=2).checkpoint.step == 2


def test_load_run_says_when_no_checkpoint_is_intact(lm_run):
    for step in (2, 3, 4):
        damage(lm_run, step)
    with pytest.raises(
        CheckpointError, match=r"no checkpoint of this run is intact \(steps 2, 3, 4\)"
    ):
        load_run(lm_run)


def test_load_run_reads_only_the_weights(lm_run):
    damage(lm_run, 4, "optimizer.safetensors")
    (lm_run / "checkpoints" / "step-00000004" / "rng.safetensors").write_bytes(b"")
    run = load_run(lm_run, which="latest")
    assert run.checkpoint.step == 4 and run.checkpoint.optimizer_state is None


def test_load_run_checkpoint_argument_errors(lm_run):
    with pytest.raises(CheckpointError) as exc:
        load_run(lm_run, checkpoint=7)
    assert str(exc.value).startswith(f"{lm_run} has no checkpoint of step 7 (steps kept: 2, 3, 4)")
    assert str(exc.value).endswith("pass checkpoint=4")
    with pytest.raises(ValueError, match=r"checkpoint=-2: give the step of a saved checkpoint"):
        load_run(lm_run, checkpoint=-2)
