"""``attnkit lab path-length`` in quick mode: attention distance per layer and head."""

from __future__ import annotations

import math

from attnkit.lab import path_length, run_claim


def _well_formed(verdict, tmp_path, name):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.rows
    assert all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_quick_run_measures_distances_within_the_string(tmp_path):
    verdict = run_claim("path-length", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "path-length")
    layers = [row for row in verdict.rows if row[0].startswith("encoder layer")]
    assert len(layers) == 2  # the lab model's encoder depth
    distances = [v for row in layers for v in row[1:]]
    assert all(0 <= d <= path_length.LENGTH for d in distances)  # in tokens, inside the string
    assert "recurrent steps" in verdict.summary
    # two rules, each over every seed's number, the second a paired far − near difference
    far, gap = verdict.rules
    assert far["threshold"] == path_length.HIT and gap["threshold"] == -path_length.TOLERANCE
    (far_hits,), (gaps,) = far["values"].values(), gap["values"].values()
    assert len(far_hits) == len(gaps) == 2  # --quick: two seeds
    assert all(0 <= h <= 1 for h in far_hits) and all(-1 <= g <= 1 for g in gaps)
    assert far["low"] <= far["estimate"] <= far["high"]
    assert verdict.arms[0]["lr"] in verdict.arms[0]["rates"][0]
    text = (tmp_path / "verdict.md").read_text()
    assert "bootstrap interval" in text and str(far_hits[0]) in text


def test_hits_are_counted_on_the_symbol_each_output_copies():
    """A model whose cross-attention sits on the mirrored source hits every output; one
    that looks straight across (output t at source t) hits only where they coincide."""
    import torch

    class Fixed(torch.nn.Module):
        def __init__(self, mirrored: bool):
            super().__init__()
            self.mirrored = mirrored

        def forward(self, src, tgt, need_weights=False):
            batch, n = src.shape
            target = torch.arange(path_length.LENGTH - 1, -1, -1) if self.mirrored else None
            cross = torch.zeros(batch, 2, n, n)
            for t in range(path_length.LENGTH):
                cross[:, :, t, target[t] if self.mirrored else t] = 1.0
            maps = type(
                "Maps", (), {"encoder": [torch.full((batch, 2, n, n), 1 / n)], "cross": [cross]}
            )
            return type("Out", (), {"attentions": maps})

    from attnkit.lab.symbol_tasks import SymbolTask

    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=path_length.LENGTH)
    batch = task.batch(4, torch.Generator().manual_seed(0), length=path_length.LENGTH)
    assert path_length.read_attention(Fixed(True), batch)["hits"].tolist() == [1.0] * 12
    straight = path_length.read_attention(Fixed(False), batch)["hits"]
    assert float(straight.sum()) == 0.0  # n − 1 − t == t has no solution for even n
