"""The honest comparison for the vision Transformer: a small CNN on the same images.

    python -m benchmarks.cnn_baseline                     # Fashion-MNIST, 20 minutes
    python -m benchmarks.cnn_baseline --minutes 2 --dataset mnist-5k

The CNN (two 3×3 convolution blocks of 32 and 64 channels with max-pooling, a 128-wide
hidden layer; 0.47 M parameters) trains on the very splits ``attnkit train``
uses (same training images, same held-out test images), with AdamW, a cosine schedule
over the time budget, batch 128 and the same mirror/shift augmentation as
``configs/vision/fashion_vit.toml``. It prints one JSON line: test accuracy, images
seen, epochs and wall time, to set beside ``attnkit evaluate RUN_DIR --split test`` of
the ViT trained for the same minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from attnkit.data.images import load_image_dataset, normalize_images, shift_images


def small_cnn(num_classes: int = 10) -> nn.Sequential:
    """conv(32)–conv(32)–pool–conv(64)–conv(64)–pool–fc(128)–fc(classes)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 14 × 14
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 7 × 7
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(128, num_classes),
    )


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        int((model(normalize_images(images[i : i + 500])).argmax(-1) == labels[i : i + 500]).sum())
        for i in range(0, len(images), 500)
    )
    model.train()
    return correct / len(labels)


def train_cnn(
    dataset: str, minutes: float, *, seed: int = 0, flip: bool = True, shift: int = 1
) -> dict:
    """Train the small CNN for ``minutes`` of wall time; test accuracy at the end."""
    torch.manual_seed(seed)
    splits = load_image_dataset(dataset, val_fraction=0.05)
    train = splits.train
    model = small_cnn(len(train.classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    generator = torch.Generator().manual_seed(seed)
    budget, batch = 60 * minutes, 128
    start, seen, step = time.perf_counter(), 0, 0
    while (elapsed := time.perf_counter() - start) < budget:
        rows = torch.randint(len(train), (batch,), generator=generator)
        images = shift_images(normalize_images(train.images[rows]), shift, generator)
        if flip:
            mirrored = torch.rand(batch, generator=generator) < 0.5
            images[mirrored] = images[mirrored].flip(-1)
        for group in optimizer.param_groups:  # warm-up, then cosine over the time budget
            progress = elapsed / budget
            group["lr"] = (
                2e-3 * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress))
            )
        loss = F.cross_entropy(model(images), train.labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen, step = seen + batch, step + 1
    seconds = time.perf_counter() - start
    return {
        "model": "small CNN",
        "dataset": dataset,
        "parameters": sum(p.numel() for p in model.parameters()),
        "test_accuracy": round(accuracy(model, splits.test.images, splits.test.labels), 4),
        "test_images": len(splits.test),
        "steps": step,
        "images_seen": seen,
        "epochs": round(seen / len(train), 2),
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist", choices=("fashion-mnist", "mnist-5k"))
    parser.add_argument("--minutes", type=float, default=20.0, help="training time (20)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train_cnn(args.dataset, args.minutes, seed=args.seed)))


if __name__ == "__main__":
    main()
