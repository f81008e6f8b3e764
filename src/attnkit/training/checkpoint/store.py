"""Where checkpoints live in a run directory: saving, finding, loading and pruning them.

Layout inside a run directory::

    RUN_DIR/checkpoints/
      latest.json              pointer to the newest complete checkpoint: {"step": 500, "dir": ...}
      best.json                pointer to the best checkpoint (when one was saved with is_best)
      step-00000500/           one checkpoint (files: see :mod:`.format`)

A checkpoint directory is written atomically (:func:`.atomic.write_dir_atomic`); only then
are the pointers replaced, each atomically, so a process killed at any moment leaves the
previous pointer and the checkpoint it names intact. Every save first removes what an
interrupted one left behind. One process writes to a run directory at a time (the trainer
holds ``RUN_DIR/train.lock``, :mod:`attnkit.training.runlock`).

The pointers are a convenience, the ``step-*`` directories the truth: a run whose
``latest.json`` is lost loads its newest ``step-*`` directory, any kept step can be asked
for by number (``step=``), and :func:`newest_intact_checkpoint` finds the newest one that
reads back whole when a newer one was damaged (a disk error, a copy cut short).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.training.checkpoint.atomic import (
    OLD_PREFIX,
    clean_stale,
    discard,
    set_aside_copies,
    write_dir_atomic,
    write_error,
    write_json_atomic,
)
from attnkit.training.checkpoint.errors import CheckpointError, one_line
from attnkit.training.checkpoint.format import (
    STATE_FILE,
    Checkpoint,
    pack_checkpoint,
    read_checkpoint,
)
from attnkit.training.checkpoint.restore import unwrap_model

__all__ = [
    "CHECKPOINTS_DIR",
    "LATEST",
    "BEST",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "checkpoint_steps",
    "newest_intact_checkpoint",
]

CHECKPOINTS_DIR = "checkpoints"
LATEST = "latest.json"
BEST = "best.json"
_STEP_DIR = re.compile(r"step-(\d+)")


# ---------------------------------------------------------------------- saving


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: Mapping[str, Any],
    rng_state: Mapping[str, Tensor] | None = None,
    keep_last: int | None = 3,
    is_best: bool = False,
) -> Path:
    """Write ``RUN_DIR/checkpoints/step-NNNNNNNN/`` atomically and point ``latest.json`` at it.

    Args:
        run_dir: the run directory (created if needed).
        step: the training step (``>= 0``); names the directory.
        model: the model; a DataParallel / DistributedDataParallel / ``torch.compile``
            wrapper is unwrapped, so the keys are those of the bare module.
        optimizer: its full state is saved (tensors in safetensors, the rest in JSON), or
            ``None``.
        trainer_state: a JSON-serialisable dict (the trainer's counters, best loss, ...).
        rng_state: tensors to restore the random generators with, e.g.
            :func:`capture_rng_state`.
        keep_last: after a successful save, delete all but the newest ``keep_last``
            checkpoints (by step), never the one just written nor the one ``best.json``
            names; ``None`` keeps everything.
        is_best: also point ``best.json`` at this checkpoint.

    Returns:
        The checkpoint directory.

    Raises:
        CheckpointError: the model weights contain NaN/Inf, ``trainer_state`` is not JSON,
            a tensor cannot be stored, or writing failed (disk full, ...). In every case the
            previous checkpoint and the pointers are left as they were.
        ValueError: ``step`` or ``keep_last`` is invalid.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if keep_last is not None and (
        isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1
    ):
        raise ValueError(f"keep_last must be an int >= 1 or None, got {keep_last!r}")
    model = unwrap_model(model)
    _check_finite(model, step)
    if not isinstance(trainer_state, Mapping):
        raise CheckpointError(
            f"refusing to save step {step}: trainer_state must be a dict, "
            f"got {type(trainer_state).__name__}"
        )
    try:
        trainer_json = json.loads(json.dumps(trainer_state))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"refusing to save step {step}: trainer_state is not JSON-serialisable ({exc})"
        ) from exc

    payload = pack_checkpoint(
        step=step,
        model_state=model.state_dict(),
        optimizer=optimizer,
        trainer_state=trainer_json,
        rng_state=rng_state,
    )

    checkpoints = Path(run_dir) / CHECKPOINTS_DIR
    name = _step_dir_name(step)
    final = checkpoints / name
    try:
        checkpoints.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, checkpoints) from exc
    clean_stale(checkpoints, restorable=_STEP_DIR)
    created = not final.exists()
    write_dir_atomic(final, payload)

    pointer = {"step": step, "dir": name}
    try:
        write_json_atomic(checkpoints / LATEST, pointer)
        if is_best:
            write_json_atomic(checkpoints / BEST, pointer)
    except BaseException:
        # the new directory is complete but unannounced: drop it unless a pointer names it
        if created and name not in _pointer_targets(checkpoints):
            discard(final)
        raise
    if keep_last is not None:
        _prune(checkpoints, keep_last, current=name)
    return final


def _check_finite(model: nn.Module, step: int) -> None:
    for name, param in model.named_parameters():
        if (param.is_floating_point() or param.is_complex()) and not bool(
            torch.isfinite(param.detach()).all()
        ):
            raise CheckpointError(
                f"refusing to save step {step}: model weights contain NaN/Inf (first in {name})"
            )


def _step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def _prune(checkpoints: Path, keep_last: int, current: str) -> None:
    """Delete checkpoints beyond the newest ``keep_last``; keep ``current`` and the targets
    of the pointers whatever their step."""
    found = _step_dirs(checkpoints)
    keep = {name for _, name in found[:keep_last]} | {current} | _pointer_targets(checkpoints)
    for _, name in found:
        if name not in keep:
            discard(checkpoints / name)


def _step_dirs(checkpoints: Path) -> list[tuple[int, str]]:
    """The ``step-NNNNNNNN`` directories in ``checkpoints``, newest first, as (step, name)."""
    found = []
    for entry in checkpoints.iterdir():
        match = _STEP_DIR.fullmatch(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry.name))
    found.sort(reverse=True)
    return found


# ---------------------------------------------------------------------- loading


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    which: str = "latest",
    step: int | None = None,
    map_location: str | torch.device = "cpu",
    verify: bool = True,
    weights_only: bool = False,
) -> Checkpoint:
    """Read a checkpoint: every file is checked against the sizes and sha256 in state.json.

    Args:
        path: a run directory (then ``step`` or ``which`` picks the checkpoint), its
            ``checkpoints/`` directory, or one checkpoint directory (``step`` and ``which``
            are then ignored).
        which: ``"latest"`` (``latest.json``; without it, the newest ``step-*`` directory)
            or ``"best"``.
        step: the checkpoint saved at this step instead (``step-NNNNNNNN/``).
        map_location: device for the model weights. Optimizer and RNG states stay on the CPU
            (``Optimizer.load_state_dict`` moves each state next to its parameter).
        verify: check sizes and sha256 (turn off only to skip hashing huge files).
        weights_only: read the weights (and ``state.json``) only: enough to use the model,
            and a damaged optimizer or RNG file does not stand in the way.

    Returns:
        The :class:`Checkpoint`.

    Raises:
        CheckpointError: the path does not exist, is not a run or checkpoint, holds no
            checkpoint at ``step``, or a file is missing, truncated, corrupt, a pickle, or
            inconsistent — one line naming the file.
        ValueError: ``which`` is neither ``"latest"`` nor ``"best"``, or ``step`` is not an
            int >= 0.
    """
    directory = _resolve(Path(path), which, step)
    return read_checkpoint(
        directory, map_location=map_location, verify=verify, weights_only=weights_only
    )


def checkpoint_steps(run_dir: str | os.PathLike[str]) -> list[int]:
    """The steps of the checkpoints a run keeps (its ``step-*`` directories), newest first;
    empty when there are none (or ``run_dir`` does not exist)."""
    checkpoints = Path(run_dir) / CHECKPOINTS_DIR
    if not checkpoints.is_dir():
        return []
    return [step for step, _ in _step_dirs(checkpoints)]


def newest_intact_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    weights_only: bool = False,
    map_location: str | torch.device = "cpu",
) -> Checkpoint | None:
    """The newest of a run's checkpoints that reads back whole (every file checked against
    its size and sha256), whatever the pointers say; ``None`` when none does.

    Args:
        run_dir: the run directory.
        weights_only: only the weights need to be intact (to use the model, not to resume
            training).
        map_location: device for the model weights.
    """
    checkpoints = Path(run_dir) / CHECKPOINTS_DIR
    for step in checkpoint_steps(run_dir):
        try:
            return read_checkpoint(
                checkpoints / _step_dir_name(step),
                map_location=map_location,
                weights_only=weights_only,
            )
        except CheckpointError:
            continue
    return None


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint directory ``RUN_DIR/checkpoints/latest.json`` points at, or ``None``
    when the run has no checkpoint yet (or ``run_dir`` does not exist).

    Raises:
        CheckpointError: ``latest.json`` exists but is unreadable or points nowhere.
    """
    pointer = Path(run_dir) / CHECKPOINTS_DIR / LATEST
    if not pointer.is_file():
        return None
    return _follow(pointer)


def _resolve(path: Path, which: str, step: int | None = None) -> Path:
    """The checkpoint directory meant by ``path`` and ``step`` or ``which``."""
    if which not in ("latest", "best"):
        raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint directory or an attnkit run")
    if (path / STATE_FILE).exists():
        return path
    checkpoints = path / CHECKPOINTS_DIR
    shown = f"{CHECKPOINTS_DIR}/"
    if not checkpoints.is_dir() and ((path / LATEST).is_file() or _step_dirs(path)):
        checkpoints, shown = path, ""  # given checkpoints/ itself
    kept = _step_dirs(checkpoints) if checkpoints.is_dir() else []
    if not kept and not (checkpoints / LATEST).is_file():
        if _STEP_DIR.fullmatch(path.name) or path.name.startswith(OLD_PREFIX):
            raise CheckpointError(f"{path} is not an attnkit checkpoint: no {STATE_FILE}")
        raise CheckpointError(f"{path} is not an attnkit run: no {shown}{LATEST}")
    if step is not None:
        return _step_checkpoint(path, checkpoints, step, [s for s, _ in kept])
    pointer = checkpoints / f"{which}.json"
    if pointer.is_file():
        return _follow(pointer)
    if which == "best":
        raise CheckpointError(f"{path} has no best checkpoint: no {shown}{BEST}")
    # latest.json was lost (deleted, or left out of a copy); the step directories remain
    return checkpoints / kept[0][1]


def _step_checkpoint(path: Path, checkpoints: Path, step: int, kept: list[int]) -> Path:
    """The directory of the checkpoint saved at ``step`` (or its set-aside copy)."""
    target = checkpoints / _step_dir_name(step)
    if target.is_dir():
        return target
    for candidate in set_aside_copies(target):
        if (candidate / STATE_FILE).is_file():
            return candidate
    listed = ", ".join(str(s) for s in sorted(kept)) if kept else "none"
    raise CheckpointError(f"{path} has no checkpoint of step {step} (steps kept: {listed})")


# ---------------------------------------------------------------------- pointers


def _follow(pointer: Path) -> Path:
    """The checkpoint directory a pointer file names."""
    try:
        obj = json.loads(pointer.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read {pointer}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointError(f"{pointer} is not valid JSON: {one_line(exc)}") from exc
    name = obj.get("dir") if isinstance(obj, dict) else None
    if not isinstance(name, str) or not _STEP_DIR.fullmatch(name):
        raise CheckpointError(f"{pointer} is corrupt: no valid 'dir' entry (step-NNNNNNNN)")
    target = pointer.parent / name
    if target.is_dir():
        return target
    # a re-save of this step was interrupted between its two renames: the old copy is whole
    for candidate in set_aside_copies(target):
        if (candidate / STATE_FILE).is_file():
            return candidate
    raise CheckpointError(f"{pointer} points to {target}, which does not exist")


def _pointer_targets(checkpoints: Path) -> set[str]:
    targets = set()
    for pointer in (LATEST, BEST):
        try:
            obj = json.loads((checkpoints / pointer).read_bytes())
            if isinstance(obj, dict) and isinstance(obj.get("dir"), str):
                targets.add(obj["dir"])
        except (OSError, ValueError):
            pass
    return targets
