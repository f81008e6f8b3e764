"""Tests of attnkit.viz.plots: files written, shapes and labels validated."""

import os
import re
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from attnkit.viz import plot_attention, plot_attention_heads

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def softmax_rows(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), dim=-1)


def test_plot_attention_writes_png_into_new_folders(tmp_path):
    path = tmp_path / "a" / "b" / "map.png"
    weights = softmax_rows(3, 5).requires_grad_()  # a tensor needing grad is accepted
    result = plot_attention(
        weights, x_labels=list("abcde"), y_labels=["x", "y", "z"], title="test map", path=path
    )
    assert result == path
    width, height = png_size(path)
    assert width > 100 and height > 100
    assert [p.name for p in path.parent.iterdir()] == ["map.png"]  # no temp file left


def test_plot_attention_accepts_numpy_and_lists_and_replaces_file(tmp_path):
    path = tmp_path / "map.png"
    plot_attention(np.eye(4), path=path)
    first = path.read_bytes()
    plot_attention([[0.5, 0.5], [1.0, 0.0]], path=str(path), annotate=False)
    assert path.read_bytes() != first
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_plot_attention_large_map_and_raw_scores(tmp_path):
    scores = torch.randn(40, 50) * 5  # outside [0, 1]: auto-scaled, not annotated
    path = plot_attention(scores, path=tmp_path / "big.png")
    assert png_size(path)[0] > png_size(plot_attention(np.eye(3), path=tmp_path / "s.png"))[0]


def test_plot_attention_svg_by_suffix(tmp_path):
    path = plot_attention(softmax_rows(2, 2), path=tmp_path / "map.svg")
    text = path.read_text()
    assert "<svg" in text


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (0, 3)])
def test_plot_attention_shape_error_names_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=r"\(Tq, Tk\).*got shape " + re.escape(str(shape))):
        plot_attention(torch.zeros(shape), path=tmp_path / "x.png")
    assert not any(tmp_path.iterdir())


def test_plot_attention_label_mismatch(tmp_path):
    with pytest.raises(ValueError, match=r"x_labels has 2 labels .* 3 key \(Tk\) positions"):
        plot_attention(softmax_rows(4, 3), x_labels=["a", "b"], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"y_labels has 5 labels .* 4 query \(Tq\) positions"):
        plot_attention(softmax_rows(4, 3), y_labels=list("abcde"), path=tmp_path / "x.png")


def test_plot_attention_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        plot_attention(softmax_rows(2, 2), path=tmp_path / "x.jpeg")


def test_plot_attention_heads_3d_grid_wraps(tmp_path):
    one_row = plot_attention_heads(softmax_rows(4, 3, 3), path=tmp_path / "h4.png")
    two_rows = plot_attention_heads(softmax_rows(8, 3, 3), path=tmp_path / "h8.png", max_cols=4)
    (w1, h1), (w2, h2) = png_size(one_row), png_size(two_rows)
    assert w1 == pytest.approx(w2, rel=0.05)  # both 4 panels wide
    assert h2 > 1.5 * h1  # 8 heads wrap onto a second row


def test_plot_attention_heads_4d_one_row_per_layer(tmp_path):
    labels = ["<s>", "the", "cat"]
    single = plot_attention_heads(softmax_rows(2, 3, 3), path=tmp_path / "l1.png")
    layers = plot_attention_heads(
        softmax_rows(3, 2, 3, 3),
        x_labels=labels,
        y_labels=labels,
        title="3 layers × 2 heads",
        path=tmp_path / "l3.png",
    )
    (w1, h1), (w3, h3) = png_size(single), png_size(layers)
    assert h3 > 2.5 * h1  # three rows of panels instead of one
    assert w3 >= w1


def test_plot_attention_heads_shape_and_label_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, Tq, Tk\) or \(L, H, Tq, Tk\).*got shape \(3, 4\)"):
        plot_attention_heads(torch.zeros(3, 4), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 3, 4, 5\)"):
        plot_attention_heads(torch.zeros(1, 2, 3, 4, 5), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"x_labels has 1 labels .* 4 key"):
        plot_attention_heads(torch.zeros(2, 3, 4), x_labels=["a"], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="max_cols must be a positive integer"):
        plot_attention_heads(torch.zeros(2, 3, 4), path=tmp_path / "x.png", max_cols=0)
    with pytest.raises(ValueError, match="more than 256"):
        plot_attention_heads(torch.zeros(17, 16, 2, 2), path=tmp_path / "x.png")
    assert not any(tmp_path.iterdir())


def test_saved_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = plot_attention(np.eye(2), path=tmp_path / "perm.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
