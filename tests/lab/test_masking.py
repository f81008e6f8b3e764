"""``attnkit lab masking`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations

import math

from attnkit.lab import run_claim
from attnkit.lab.report import read_verdict


def _check_well_formed(verdict, name, out):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.title and verdict.claim
    assert verdict.rows and all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (out / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert read_verdict(out) == verdict


def test_quick_run_compares_the_causal_and_the_cheating_model(tmp_path):
    verdict = run_claim("masking", out=tmp_path, quick=True, seed=0)
    _check_well_formed(verdict, "masking", tmp_path)
    rows = {row[0]: row for row in verdict.rows}
    assert set(rows) == {"causal mask", "no mask"}
    assert all(0 < row[1] < 5 and 0 < row[2] < 10 for row in rows.values())  # nats/char
    # Even a short run shows the cost: evaluated honestly (causal mask, as generation
    # sees it), the weights trained without the mask are worse. (The collapse of the
    # cheat's training loss needs the full run's steps.)
    assert rows["no mask"][2] > rows["causal mask"][2]
    # the cheat's learning rate was chosen by its own (unmasked) validation loss, the
    # number its user would watch — lower than the honest loss of the same weights
    cheat = next(arm for arm in verdict.arms if arm["name"] == "no mask")
    ((lr, own_validation_loss),) = cheat["rates"]
    assert lr == cheat["lr"] and own_validation_loss < rows["no mask"][2]
