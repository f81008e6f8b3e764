"""Applying a loaded checkpoint to live objects: the model, the optimizer, the random
generators (and capturing those generators for a save).

Each function checks fit first and raises a one-line :class:`CheckpointError` naming the
checkpoint file, rather than torch's multi-line ``load_state_dict`` report.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from attnkit.training.checkpoint.errors import CheckpointError, one_line
from attnkit.training.checkpoint.format import MODEL_FILE, OPTIMIZER_FILE, Checkpoint

__all__ = [
    "restore_model",
    "restore_optimizer",
    "capture_rng_state",
    "restore_rng_state",
    "unwrap_model",
]

_MAX_LISTED = 3  # mismatches spelled out in a wrong-architecture message


def restore_model(model: nn.Module, checkpoint: Checkpoint) -> None:
    """Load the checkpoint's weights into ``model`` (strictly: every key, every shape).

    Parameters are copied in place, so parameters tied in ``model`` stay tied.

    Raises:
        CheckpointError: the model does not match the checkpoint, e.g. ``.../model.safetensors:
            wrong architecture: 2 missing keys (a, b); shape mismatch: x.weight (65, 32) in
            the checkpoint vs (70, 32) in the model``.
    """
    model = unwrap_model(model)
    source = checkpoint.path / MODEL_FILE
    expected = model.state_dict()
    saved = checkpoint.model_state
    missing = [key for key in expected if key not in saved]
    unexpected = [key for key in saved if key not in expected]
    shapes = [
        f"{key} {tuple(saved[key].shape)} in the checkpoint vs {tuple(value.shape)} in the model"
        for key, value in expected.items()
        if key in saved and isinstance(value, Tensor) and saved[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) ({_first_few(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) ({_first_few(unexpected)})")
    if shapes:
        problems.append(f"shape mismatch: {_first_few(shapes)}")
    if problems:
        raise CheckpointError(f"{source}: wrong architecture: {'; '.join(problems)}")
    try:
        model.load_state_dict(saved, strict=True)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{source}: cannot load the weights: {one_line(exc)}") from exc


def restore_optimizer(optimizer: torch.optim.Optimizer, checkpoint: Checkpoint) -> None:
    """Load the checkpoint's optimizer state into ``optimizer``.

    Raises:
        CheckpointError: the checkpoint has no optimizer state, or it does not fit this
            optimizer (other parameter groups or sizes).
    """
    source = checkpoint.path / OPTIMIZER_FILE
    if checkpoint.optimizer_state is None:
        raise CheckpointError(f"{checkpoint.path} holds no optimizer state")
    try:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{source}: the optimizer state does not fit this optimizer: {one_line(exc)}"
        ) from exc


def capture_rng_state() -> dict[str, Tensor]:
    """The states of torch's CPU (and CUDA) generators, Python's ``random`` and NumPy's
    global generator, as tensors for :func:`save_checkpoint`.

    Keys: ``torch``, ``cuda0``, ``cuda1``, ... , ``python``, ``python_gauss``,
    ``numpy``, ``numpy_pos``, ``numpy_gauss``.
    """
    state: dict[str, Tensor] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{index}"] = cuda_state
    version, internal, gauss = random.getstate()
    state["python"] = torch.tensor([version, *internal], dtype=torch.int64)
    state["python_gauss"] = torch.tensor([] if gauss is None else [gauss], dtype=torch.float64)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency, but optional here
        return state
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    if kind == "MT19937":
        state["numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
        state["numpy_pos"] = torch.tensor([pos, has_gauss], dtype=torch.int64)
        state["numpy_gauss"] = torch.tensor([cached], dtype=torch.float64)
    return state


def restore_rng_state(state: Mapping[str, Tensor]) -> None:
    """Set the generators from a :func:`capture_rng_state` dict; absent keys are skipped
    (so are CUDA states for devices that are not present).

    Raises:
        CheckpointError: a state tensor is malformed.
    """
    try:
        if "torch" in state:
            torch.set_rng_state(state["torch"].detach().cpu().to(torch.uint8))
        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                if f"cuda{index}" in state:
                    torch.cuda.set_rng_state(state[f"cuda{index}"].detach().cpu(), index)
        if "python" in state:
            values = [int(v) for v in state["python"].tolist()]
            gauss = state.get("python_gauss")
            gauss_next = float(gauss[0]) if gauss is not None and gauss.numel() else None
            random.setstate((values[0], tuple(values[1:]), gauss_next))
        if "numpy" in state:
            import numpy as np

            pos, has_gauss = (int(v) for v in state["numpy_pos"].tolist())
            np.random.set_state(
                (
                    "MT19937",
                    state["numpy"].cpu().numpy().astype(np.uint32),
                    pos,
                    has_gauss,
                    float(state["numpy_gauss"][0]),
                )
            )
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise CheckpointError(f"cannot restore the random state: {one_line(exc)}") from exc


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare module inside DataParallel / DistributedDataParallel / torch.compile."""
    while True:
        if isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _first_few(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", … (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")
