"""Attention over images: distances, rollout, upsampling and the pictures."""

from __future__ import annotations

import torch

from attnkit.viz.image_attention import (
    attention_rollout,
    mean_attention_distance,
    plot_caption_attention,
    plot_class_attention,
    plot_confusion_matrix,
    upsample_attention,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_mean_attention_distance_of_self_and_uniform_attention():
    grid, patch = (3, 3), 4
    identity = torch.eye(10).expand(2, 5, 2, 10, 10)  # (L, B, H, T, T), class token first
    assert torch.allclose(mean_attention_distance(identity, grid, patch), torch.zeros(2, 2))
    uniform = torch.full((1, 1, 1, 9, 9), 1 / 9)
    distance = mean_attention_distance(uniform, grid, patch, class_token=False)
    centres = torch.tensor([[r * 4.0, c * 4.0] for r in range(3) for c in range(3)])
    assert torch.allclose(distance, torch.cdist(centres, centres).mean().view(1, 1))
    # one patch looking only at its right-hand neighbour: 4 px
    right = torch.zeros(1, 1, 1, 9, 9)
    for q in range(9):
        right[..., q, q + 1 if q % 3 < 2 else q - 1] = 1.0
    assert torch.allclose(
        mean_attention_distance(right, grid, patch, class_token=False), torch.tensor([[4.0]])
    )


def test_rollout_rows_are_distributions_and_identity_passes_through():
    eye = torch.eye(5).expand(3, 2, 5, 5)
    assert torch.allclose(attention_rollout(eye), torch.eye(5))
    maps = torch.softmax(torch.randn(3, 2, 5, 5), dim=-1)
    rolled = attention_rollout(maps)
    assert torch.allclose(rolled.sum(-1), torch.ones(5))
    assert (rolled >= 0).all()


def test_upsampling_gives_each_patch_its_pixels():
    heat = upsample_attention(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), (2, 3), (4, 6))
    assert heat.shape == (4, 6)
    assert heat[0, 0] == heat[1, 1] == torch.tensor(0.1)
    assert heat[3, 5] == torch.tensor(0.6)


def test_pictures_are_written(tmp_path):
    image = torch.randint(0, 256, (1, 28, 56), dtype=torch.uint8)
    weights = torch.softmax(torch.randn(2, 14), dim=-1)
    path = plot_caption_attention(image, ["four", "two"], weights, (2, 7), path=tmp_path / "c.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    square = image[:, :, :28]
    path = plot_class_attention(
        square, torch.rand(3, 49), torch.rand(49), (7, 7), path=tmp_path / "v.png"
    )
    assert path.read_bytes().startswith(PNG_MAGIC)
    path = plot_confusion_matrix([[5, 1], [0, 4]], ["a", "b"], path=tmp_path / "m.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
