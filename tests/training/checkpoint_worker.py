"""Subprocess for the kill -9 test in test_checkpoint.py: train a small model, saving a
checkpoint after every optimizer step, resuming from the run's latest checkpoint if any.

    python checkpoint_worker.py RUN_DIR                       # until killed
    python checkpoint_worker.py RUN_DIR --uninterrupted N     # N steps, one save at the end

Prints ``fresh 0`` or ``resumed N`` first, then ``saved N`` after each checkpoint. Training
is deterministic (data from the step number, noise from the global generator), so a run that
is killed and resumed ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import sys

import torch

from attnkit.training.checkpoint import (
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_model,
    restore_optimizer,
    restore_rng_state,
    save_checkpoint,
)

WIDTH = 128
LAYERS = 4


def build() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The model (~66k parameters, ~0.8 MB per checkpoint with AdamW state) and optimizer."""
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for _ in range(LAYERS):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
    """One deterministic update: inputs from the step number plus global-RNG noise."""
    inputs = torch.randn(16, WIDTH, generator=torch.Generator().manual_seed(step))
    inputs = inputs + 0.1 * torch.randn(16, WIDTH)
    loss = (model(inputs) - inputs).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def main(argv: list[str]) -> None:
    """Run until killed, or the uninterrupted reference run."""
    torch.set_num_threads(1)
    run_dir = argv[0]
    max_steps = int(argv[2]) if argv[1:2] == ["--uninterrupted"] else None
    model, optimizer = build()
    if latest_checkpoint(run_dir) is not None:
        checkpoint = load_checkpoint(run_dir)
        restore_model(model, checkpoint)
        restore_optimizer(optimizer, checkpoint)
        restore_rng_state(checkpoint.rng_state)
        step = checkpoint.step
        assert checkpoint.trainer_state == {"step": step}
        print(f"resumed {step}", flush=True)
    else:
        torch.manual_seed(1)
        step = 0
        print("fresh 0", flush=True)
    while max_steps is None or step < max_steps:
        step += 1
        train_step(model, optimizer, step)
        if max_steps is not None and step < max_steps:
            continue
        save_checkpoint(
            run_dir,
            step=step,
            model=model,
            optimizer=optimizer,
            trainer_state={"step": step},
            rng_state=capture_rng_state(),
            keep_last=2,
        )
        print(f"saved {step}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
