"""The measurements of claims 1–9 and 15 that need no training already show what the
notes say (each claim's quick run end to end is tested in its own ``test_<name>.py``)."""

from __future__ import annotations

import torch

from attnkit.lab.comparisons import steps_to_loss
from attnkit.lab.permutation import equivariance_error
from attnkit.lab.scaling import measure
from attnkit.lab.symbol_tasks import SymbolTask


def test_unscaled_softmax_peaks_and_its_gradient_fades_as_width_grows():
    generator = torch.Generator().manual_seed(0)
    raw_small, raw_big = (measure(d, scaled=False, generator=generator) for d in (16, 1024))
    scaled_big = measure(1024, scaled=True, generator=generator)
    assert raw_big["score_std"] > 5 * raw_small["score_std"]  # grows like √d
    assert raw_big["max_weight"] > 0.9 > 0.5 > scaled_big["max_weight"]
    assert raw_big["grad"] < 0.5 * scaled_big["grad"]


def test_only_the_model_without_positions_is_permutation_equivariant():
    task = SymbolTask("reverse", max_len=8)
    assert equivariance_error("none", task, seed=0) < 1e-4
    for scheme in ("sinusoidal", "learned", "relative", "rope", "alibi"):
        assert equivariance_error(scheme, task, seed=0) > 1e-3, scheme


def test_steps_to_a_loss_count_a_window_mean_not_one_lucky_batch():
    curve = [3.0, 0.1, 3.0, 3.0, 0.5, 0.4, 0.3]
    assert steps_to_loss(curve, 0.4, window=2) == 7  # mean of 0.4 and 0.3
    assert steps_to_loss(curve, 0.05, window=2) is None
    assert steps_to_loss([float("nan")] * 5, 1.0, window=2) is None
