"""The lab's device seam: claims run where ``--device`` says, and data stays seeded on
the CPU."""

from __future__ import annotations

import torch

from attnkit.cli import main
from attnkit.lab import placement, run_claim
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer, position_accuracy


def test_running_on_sets_the_device_for_the_block_and_restores_it():
    assert placement.device() == torch.device("cpu")
    with placement.running_on(torch.device("meta")) as where:
        assert where == placement.device() == torch.device("meta")
        task = SymbolTask("copy", min_len=2, max_len=4)
        model = make_transformer(task, d_model=16, num_heads=2)
        assert {p.device.type for p in model.parameters()} == {"meta"}  # built in place
        batch = placement.place(task.batch(3, torch.Generator().manual_seed(0)))
        assert {t.device.type for t in batch.values()} == {"meta"}
    assert placement.device() == torch.device("cpu")


def test_place_follows_the_models_device_and_keeps_shapes():
    task = SymbolTask("reverse", min_len=3, max_len=5)
    model = make_transformer(task, d_model=16, num_heads=2)
    batch = task.batch(4, torch.Generator().manual_seed(1))
    placed = placement.place(batch, model)
    assert all(placed[k].shape == batch[k].shape and placed[k].device.type == "cpu" for k in batch)
    correct, counted = position_accuracy(model, batch)
    assert correct.device.type == counted.device.type == "cpu"  # reported on the CPU
    assert bool((correct <= counted).all())


def test_a_claim_records_its_device_and_machine(tmp_path):
    verdict = run_claim("permutation", out=tmp_path, quick=True, device="cpu")
    assert verdict.machine.endswith(" cores") and "+" not in verdict.machine  # no GPU named


def test_lab_refuses_a_device_that_is_not_there_in_one_line(capsys, tmp_path):
    assert main(["lab", "permutation", "--quick", "--out", str(tmp_path), "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "device" in err
    assert not (tmp_path / "verdict.json").exists()
