"""Checkpoints: save and resume a training run atomically, and never unpickle anything.

Layout inside a run directory::

    RUN_DIR/checkpoints/
      latest.json              pointer to the newest complete checkpoint: {"step": 500, "dir": ...}
      best.json                pointer to the best checkpoint (when one was saved with is_best)
      step-00000500/
        model.safetensors      weights; a tied parameter is stored once and its aliases restored
        optimizer.safetensors  optimizer state tensors, flat keys such as ``state.3.exp_avg``
        optimizer.json         the rest of the optimizer state dict (param_groups, scalars)
        rng.safetensors        random-number-generator states
        state.json             format version, step, trainer state, size + sha256 of each file

Crash safety. A checkpoint is written into ``checkpoints/.tmp-step-00000500-<random>/``,
every file is fsync'ed, the directory is renamed to its final name and ``checkpoints/`` is
fsync'ed; only then is ``latest.json`` (and ``best.json``) replaced atomically (temp file,
fsync, ``os.replace``, fsync of the directory). A process killed at any moment therefore
leaves the previous pointer and the checkpoint it names intact; the next save removes the
leftover ``.tmp-*`` entries. One process writes to a run directory at a time.

Safety. Tensors are read with safetensors, everything else with :mod:`json`; a file that is a
pickle or a ``torch.save`` archive is refused without being read further.

Example:
    >>> import tempfile
    >>> model = torch.nn.Linear(4, 2)
    >>> with tempfile.TemporaryDirectory() as run:
    ...     path = save_checkpoint(run, step=7, model=model, optimizer=None, trainer_state={})
    ...     checkpoint = load_checkpoint(run)
    ...     restore_model(torch.nn.Linear(4, 2), checkpoint)
    ...     path.name, checkpoint.step
    ('step-00000007', 7)
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as _safetensors_load
from safetensors.torch import save as _safetensors_save
from torch import Tensor, nn

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "restore_model",
    "restore_optimizer",
    "capture_rng_state",
    "restore_rng_state",
    "write_json_atomic",
    "write_bytes_atomic",
]

FORMAT = "attnkit.checkpoint"
FORMAT_VERSION = 1

CHECKPOINTS_DIR = "checkpoints"
LATEST = "latest.json"
BEST = "best.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"
_PAYLOAD_FILES = (MODEL_FILE, OPTIMIZER_FILE, OPTIMIZER_JSON, RNG_FILE)
_STATE_KEYS = ("format", "format_version", "step", "trainer_state", "files")

_STEP_DIR = re.compile(r"step-(\d+)")
_TMP = ".tmp-"  # anything named .tmp-* under checkpoints/ is garbage from an interrupted write
_OLD = ".old-"  # .old-step-N-<hex>: step-N set aside while a re-save of step N replaces it
_OLD_DIR = re.compile(r"\.old-(step-\d+)-[0-9a-f]+")
_ALIASES = "attnkit.aliases"  # safetensors metadata: {alias key: stored key} for shared tensors
_MAX_LISTED = 3  # mismatches spelled out in a wrong-architecture message


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, read or applied; the message is one line that names
    the file and the problem."""


@dataclass
class Checkpoint:
    """A checkpoint read back by :func:`load_checkpoint`.

    Attributes:
        path: the checkpoint directory (``RUN_DIR/checkpoints/step-NNNNNNNN``).
        step: the training step it was saved at.
        model_state: a state dict for ``model.load_state_dict(strict=True)`` (or
            :func:`restore_model`); tied parameters are the same tensor object.
        optimizer_state: in :meth:`torch.optim.Optimizer.state_dict` format, ready for
            ``optimizer.load_state_dict`` (or :func:`restore_optimizer`); ``None`` if the
            checkpoint was saved without an optimizer.
        trainer_state: the JSON dict given to :func:`save_checkpoint` (JSON turns tuples
            into lists and dict keys into strings).
        rng_state: the random-number-generator states (empty if none were saved).
    """

    path: Path
    step: int
    model_state: dict[str, Tensor] = field(repr=False)
    optimizer_state: dict[str, Any] | None = field(repr=False)
    trainer_state: dict[str, Any] = field(repr=False)
    rng_state: dict[str, Tensor] = field(default_factory=dict, repr=False)


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
    model = _unwrap(model)
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

    # Everything is serialised in memory first: a failure here touches no file.
    payload: dict[str, bytes] = {
        MODEL_FILE: _pack_tensors(model.state_dict(), f"step {step}: the model weights")
    }
    if optimizer is not None:
        tensors: dict[str, Tensor] = {}
        encoded = _encode(optimizer.state_dict(), "", tensors, f"step {step}: optimizer state")
        payload[OPTIMIZER_FILE] = _pack_tensors(tensors, f"step {step}: the optimizer state")
        payload[OPTIMIZER_JSON] = _json_bytes(
            {"optimizer": type(optimizer).__name__, "state_dict": encoded}
        )
    if rng_state is not None:
        payload[RNG_FILE] = _pack_tensors(rng_state, f"step {step}: the random state")
    payload[STATE_FILE] = _json_bytes(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "step": step,
            "trainer_state": trainer_json,
            "files": {
                name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in payload.items()
            },
            "torch_version": torch.__version__,
        }
    )

    checkpoints = Path(run_dir) / CHECKPOINTS_DIR
    name = _step_dir_name(step)
    final = checkpoints / name
    try:
        checkpoints.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(exc, checkpoints) from exc
    _clean_stale(checkpoints)
    created = not final.exists()
    tmp = checkpoints / f"{_TMP}{name}-{secrets.token_hex(4)}"
    writing = final
    try:
        tmp.mkdir()
        for filename, data in payload.items():
            writing = final / filename
            _write_synced(tmp / filename, data)
        writing = final
        _fsync_dir(tmp)
        _install_dir(tmp, final)
        _fsync_dir(checkpoints)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise _write_error(exc, writing) from exc
        raise

    pointer = {"step": step, "dir": name}
    try:
        write_json_atomic(checkpoints / LATEST, pointer)
        if is_best:
            write_json_atomic(checkpoints / BEST, pointer)
    except BaseException:
        # the new directory is complete but unannounced: drop it unless a pointer names it
        if created and name not in _pointer_targets(checkpoints):
            _discard(final)
        raise
    if keep_last is not None:
        _prune(checkpoints, keep_last, current=name)
    return final


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    Writes a temp file in the same directory, flushes and fsyncs it, ``os.replace``-s it onto
    ``path`` and fsyncs the directory.

    Raises:
        CheckpointError: writing failed (e.g. "no space left on device while writing PATH");
            ``path`` is unchanged and the temp file removed.
    """
    path = Path(path)
    tmp = path.with_name(f"{_TMP}{path.name}-{secrets.token_hex(4)}")
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise _write_error(exc, path) from exc
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`write_bytes_atomic`).

    Raises:
        TypeError: ``obj`` is not JSON-serialisable (nothing is written).
        CheckpointError: writing failed.
    """
    write_bytes_atomic(path, _json_bytes(obj))


# ---------------------------------------------------------------------- loading


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    which: str = "latest",
    map_location: str | torch.device = "cpu",
    verify: bool = True,
) -> Checkpoint:
    """Read a checkpoint: every file is checked against the sizes and sha256 in state.json.

    Args:
        path: a run directory (then ``which`` picks the checkpoint), its ``checkpoints/``
            directory, or one checkpoint directory (``which`` is then ignored).
        which: ``"latest"`` or ``"best"``.
        map_location: device for the model weights. Optimizer and RNG states stay on the CPU
            (``Optimizer.load_state_dict`` moves each state next to its parameter).
        verify: check sizes and sha256 (turn off only to skip hashing huge files).

    Returns:
        The :class:`Checkpoint`.

    Raises:
        CheckpointError: the path does not exist, is not a run or checkpoint, or a file is
            missing, truncated, corrupt, a pickle, or inconsistent — one line naming the file.
        ValueError: ``which`` is neither ``"latest"`` nor ``"best"``.
    """
    directory = _resolve(Path(path), which)
    state = _read_state(directory)
    files = state["files"]
    model_state = _unpack_tensors(
        directory / MODEL_FILE, _read_payload(directory, MODEL_FILE, files, verify), map_location
    )
    optimizer_state = None
    has_tensors, has_json = OPTIMIZER_FILE in files, OPTIMIZER_JSON in files
    if has_tensors != has_json:
        present, absent = (
            (OPTIMIZER_FILE, OPTIMIZER_JSON) if has_tensors else (OPTIMIZER_JSON, OPTIMIZER_FILE)
        )
        raise CheckpointError(f"{directory / STATE_FILE} lists {present} but not {absent}")
    if has_tensors:
        tensors = _unpack_tensors(
            directory / OPTIMIZER_FILE,
            _read_payload(directory, OPTIMIZER_FILE, files, verify),
            "cpu",
        )
        optimizer_state = _decode_optimizer(
            directory / OPTIMIZER_JSON,
            _read_payload(directory, OPTIMIZER_JSON, files, verify),
            tensors,
        )
    rng_state: dict[str, Tensor] = {}
    if RNG_FILE in files:
        rng_state = _unpack_tensors(
            directory / RNG_FILE, _read_payload(directory, RNG_FILE, files, verify), "cpu"
        )
    return Checkpoint(
        path=directory,
        step=state["step"],
        model_state=model_state,
        optimizer_state=optimizer_state,
        trainer_state=state["trainer_state"],
        rng_state=rng_state,
    )


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


def restore_model(model: nn.Module, checkpoint: Checkpoint) -> None:
    """Load the checkpoint's weights into ``model`` (strictly: every key, every shape).

    Parameters are copied in place, so parameters tied in ``model`` stay tied.

    Raises:
        CheckpointError: the model does not match the checkpoint, e.g. ``.../model.safetensors:
            wrong architecture: 2 missing keys (a, b); shape mismatch: x.weight (65, 32) in
            the checkpoint vs (70, 32) in the model``.
    """
    model = _unwrap(model)
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
        raise CheckpointError(f"{source}: cannot load the weights: {_one_line(exc)}") from exc


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
            f"{source}: the optimizer state does not fit this optimizer: {_one_line(exc)}"
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
        raise CheckpointError(f"cannot restore the random state: {_one_line(exc)}") from exc


# ---------------------------------------------------------------------- helpers: saving


def _unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside DataParallel / DistributedDataParallel / torch.compile."""
    while True:
        if isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


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


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _pack_tensors(tensors: Mapping[str, Tensor], what: str) -> bytes:
    """Serialise to safetensors bytes. Identical views of one storage (tied weights) are stored
    once, the other names recorded as aliases; other storage sharing is resolved by copying."""
    stored: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    first_name: dict[tuple[Any, ...], str] = {}
    storages: set[tuple[Any, ...]] = set()
    for key, tensor in tensors.items():
        if not isinstance(key, str) or not isinstance(tensor, Tensor):
            raise CheckpointError(
                f"cannot save {what}: entry {key!r} is a {type(tensor).__name__}, not a tensor"
            )
        tensor = tensor.detach()
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        if tensor.numel():
            view = (*storage, tensor.storage_offset(), tensor.shape, tensor.stride(), tensor.dtype)
            if view in first_name:
                aliases[key] = first_name[view]
                continue
            first_name[view] = key
        standalone = (
            tensor.numel() > 0
            and storage not in storages
            and tensor.is_contiguous()
            and tensor.storage_offset() == 0
            and tensor.nbytes == tensor.untyped_storage().nbytes()
        )
        storages.add(storage)
        tensor = tensor.cpu()
        if not standalone:
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        stored[key] = tensor
    metadata = {"format": "pt", _ALIASES: json.dumps(aliases)}
    try:
        return _safetensors_save(stored, metadata=metadata)
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:  # e.g. an unsupported dtype
        raise CheckpointError(f"cannot save {what}: {_one_line(exc)}") from exc


def _encode(obj: Any, path: str, tensors: dict[str, Tensor], what: str) -> Any:
    """JSON form of a nested state dict; tensors go to ``tensors`` under their dotted path.

    Tags keep what JSON would lose: ``{"__tensor__": key}``, ``{"__tuple__": [...]}`` and
    ``{"__dict__": [[key, value], ...]}`` (dicts with non-string keys).
    """
    if isinstance(obj, Tensor):
        if path in tensors:
            raise CheckpointError(f"cannot save {what}: two tensors map to the key {path!r}")
        tensors[path] = obj
        return {"__tensor__": path}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, tuple | list):
        items = [_encode(v, _join(path, i), tensors, what) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, _join(path, k), tensors, what) for k, v in obj.items()}
        return {
            "__dict__": [
                [_encode_key(k, path, what), _encode(v, _join(path, k), tensors, what)]
                for k, v in obj.items()
            ]
        }
    raise CheckpointError(
        f"cannot save {what}: unsupported value of type {type(obj).__name__} at {path!r}"
    )


def _encode_key(key: Any, path: str, what: str) -> Any:
    if key is None or isinstance(key, bool | int | float | str):
        return key
    if isinstance(key, tuple):
        return {"__tuple__": [_encode_key(k, path, what) for k in key]}
    raise CheckpointError(
        f"cannot save {what}: unsupported dict key of type {type(key).__name__} in {path!r}"
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# ---------------------------------------------------------------------- helpers: files


def _write_synced(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename or file creation inside ``path`` durable (no-op where unsupported)."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(exc: OSError, path: Path) -> CheckpointError:
    if exc.errno == errno.ENOSPC:
        return CheckpointError(f"no space left on device while writing {path}")
    if exc.errno == getattr(errno, "EDQUOT", None):
        return CheckpointError(f"disk quota exceeded while writing {path}")
    return CheckpointError(f"cannot write {path}: {exc.strerror or _one_line(exc)}")


def _remove(path: Path) -> None:
    """Delete a file or directory tree, ignoring errors (best-effort cleanup)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _discard(directory: Path) -> None:
    """Delete a directory so that an interruption leaves only ``.tmp-*`` garbage, never a
    half-deleted directory under a real name."""
    trash = directory.with_name(f"{_TMP}trash-{directory.name}-{secrets.token_hex(4)}")
    try:
        os.rename(directory, trash)
    except OSError:
        trash = directory
    _remove(trash)


def _install_dir(tmp: Path, final: Path) -> None:
    """Rename the complete ``tmp`` directory to ``final``, replacing an existing ``final``.

    A directory cannot be renamed onto a non-empty one, so an existing ``final`` is first set
    aside as ``.old-<name>-<hex>``; were the process killed between the two renames, readers
    fall back to the set-aside copy and the next save renames it back.
    """
    if not final.exists():
        os.rename(tmp, final)
        return
    old = final.with_name(f"{_OLD}{final.name}-{secrets.token_hex(4)}")
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    _fsync_dir(final.parent)
    _discard(old)


def _clean_stale(checkpoints: Path) -> None:
    """Remove what interrupted saves left behind; put back a set-aside checkpoint whose
    replacement never arrived."""
    try:
        entries = list(checkpoints.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(_TMP):
            _remove(entry)
        elif match := _OLD_DIR.fullmatch(entry.name):
            final = checkpoints / match.group(1)
            try:
                if final.exists():
                    _discard(entry)
                else:
                    os.rename(entry, final)
            except OSError:
                pass


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


def _prune(checkpoints: Path, keep_last: int, current: str) -> None:
    """Delete checkpoints beyond the newest ``keep_last``; keep ``current`` and the targets
    of the pointers whatever their step."""
    found = []
    for entry in checkpoints.iterdir():
        match = _STEP_DIR.fullmatch(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry.name))
    found.sort(reverse=True)
    keep = {name for _, name in found[:keep_last]} | {current} | _pointer_targets(checkpoints)
    for _, name in found:
        if name not in keep:
            _discard(checkpoints / name)


# ---------------------------------------------------------------------- helpers: loading


def _resolve(path: Path, which: str) -> Path:
    """The checkpoint directory meant by ``path`` and ``which``."""
    if which not in ("latest", "best"):
        raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint directory or an attnkit run")
    if (path / STATE_FILE).exists():
        return path
    checkpoints = path / CHECKPOINTS_DIR
    shown = f"{CHECKPOINTS_DIR}/"
    if not checkpoints.is_dir() and (path / LATEST).is_file():  # given checkpoints/ itself
        checkpoints, shown = path, ""
    pointer = checkpoints / f"{which}.json"
    if not pointer.is_file():
        if which == "best" and (checkpoints / LATEST).is_file():
            raise CheckpointError(f"{path} has no best checkpoint: no {shown}{BEST}")
        if _STEP_DIR.fullmatch(path.name) or path.name.startswith(_OLD):
            raise CheckpointError(f"{path} is not an attnkit checkpoint: no {STATE_FILE}")
        raise CheckpointError(f"{path} is not an attnkit run: no {shown}{LATEST}")
    return _follow(pointer)


def _follow(pointer: Path) -> Path:
    """The checkpoint directory a pointer file names."""
    try:
        obj = json.loads(pointer.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read {pointer}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointError(f"{pointer} is not valid JSON: {_one_line(exc)}") from exc
    name = obj.get("dir") if isinstance(obj, dict) else None
    if not isinstance(name, str) or not _STEP_DIR.fullmatch(name):
        raise CheckpointError(f"{pointer} is corrupt: no valid 'dir' entry (step-NNNNNNNN)")
    target = pointer.parent / name
    if target.is_dir():
        return target
    # a re-save of this step was interrupted between its two renames: the old copy is whole
    for candidate in sorted(pointer.parent.glob(f"{_OLD}{name}-*")):
        if (candidate / STATE_FILE).is_file():
            return candidate
    raise CheckpointError(f"{pointer} points to {target}, which does not exist")


def _read_state(directory: Path) -> dict[str, Any]:
    path = directory / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not an attnkit checkpoint: no {STATE_FILE}")
    try:
        state = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CheckpointError(f"{path} is not valid JSON: {_one_line(exc)}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is corrupt: expected a JSON object")
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} is corrupt: missing key(s) {', '.join(missing)}")
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path} is not an attnkit checkpoint (format {state['format']!r})")
    version = state["format_version"]
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} is corrupt: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {version}, newer than this attnkit reads "
            f"({FORMAT_VERSION}); upgrade attnkit"
        )
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path} is corrupt: bad step {step!r}")
    if not isinstance(state["trainer_state"], dict):
        raise CheckpointError(f"{path} is corrupt: trainer_state is not an object")
    files = state["files"]
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise CheckpointError(f"{path} is corrupt: the file list does not name {MODEL_FILE}")
    for name, entry in files.items():
        if name not in _PAYLOAD_FILES:
            raise CheckpointError(f"{path} is corrupt: unknown file {name!r} in the file list")
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            raise CheckpointError(f"{path} is corrupt: no size and sha256 for {name}")
    return state


def _read_payload(directory: Path, name: str, files: dict[str, Any], verify: bool) -> bytes:
    """The bytes of one listed file, checked against state.json."""
    path = directory / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing (listed in {STATE_FILE})") from exc
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from exc
    if name.endswith(".safetensors"):
        _refuse_pickle(path, data)
    if verify:
        expected = files[name]
        if len(data) != expected["size"]:
            raise CheckpointError(
                f"{path} is corrupt or truncated: {len(data)} bytes, "
                f"{STATE_FILE} says {expected['size']}"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected["sha256"]:
            raise CheckpointError(
                f"{path} is corrupt: sha256 {digest[:16]}… does not match {STATE_FILE} "
                f"({str(expected['sha256'])[:16]}…)"
            )
    return data


def _safetensors_header(data: bytes) -> dict[str, Any] | None:
    """The JSON header of a safetensors blob, or None if ``data`` is not shaped like one."""
    if len(data) < 10 or data[8:9] != b"{":
        return None
    size = int.from_bytes(data[:8], "little")
    if 8 + size > len(data):
        return None
    try:
        header = json.loads(data[8 : 8 + size])
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _refuse_pickle(path: Path, data: bytes) -> None:
    """A pickle (0x80 protocol marker) or torch.save zip where safetensors belongs: refuse."""
    if (data[:1] == b"\x80" or data[:4] == b"PK\x03\x04") and _safetensors_header(data) is None:
        raise CheckpointError(
            f"refusing to load {path}: it is a pickle/torch.save file; "
            "attnkit never unpickles checkpoints"
        )


def _unpack_tensors(path: Path, data: bytes, map_location: str | torch.device) -> dict[str, Tensor]:
    """Parse safetensors bytes and restore the aliases written by :func:`_pack_tensors`."""
    _refuse_pickle(path, data)
    if not data:
        raise CheckpointError(f"{path} is corrupt or truncated: the file is empty")
    header = _safetensors_header(data)
    if header is None:
        raise CheckpointError(f"{path} is corrupt or truncated: no valid safetensors header")
    try:
        tensors = _safetensors_load(data)
    except Exception as exc:  # safetensors raises SafetensorError, ValueError, ...
        raise CheckpointError(f"{path} is corrupt or truncated: {_one_line(exc)}") from exc
    metadata = header.get("__metadata__") or {}
    try:
        aliases = json.loads(metadata.get(_ALIASES, "{}")) if isinstance(metadata, dict) else {}
        for alias, target in aliases.items():
            tensors[alias] = tensors[target]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is corrupt: bad alias table ({_one_line(exc)})") from exc
    moved: dict[int, Tensor] = {}
    for key, tensor in tensors.items():
        if id(tensor) not in moved:
            moved[id(tensor)] = tensor.to(map_location)
        tensors[key] = moved[id(tensor)]
    return tensors


def _decode_optimizer(path: Path, data: bytes, tensors: dict[str, Tensor]) -> dict[str, Any]:
    try:
        obj = json.loads(data)
        state_dict = _decode(obj["state_dict"], tensors)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {_one_line(exc)}") from exc
    if not (
        isinstance(state_dict, dict)
        and isinstance(state_dict.get("state"), dict)
        and isinstance(state_dict.get("param_groups"), list)
    ):
        raise CheckpointError(f"{path} is corrupt: not an optimizer state dict")
    return state_dict


def _decode(obj: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of :func:`_encode` (raises KeyError/TypeError/ValueError on malformed input)."""
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            ((tag, value),) = obj.items()
            if tag == "__tensor__":
                if value not in tensors:
                    raise KeyError(f"tensor {value!r} is not in {OPTIMIZER_FILE}")
                return tensors[value]
            if tag == "__tuple__":
                return tuple(_decode(v, tensors) for v in value)
            if tag == "__dict__":
                return {_decode(k, tensors): _decode(v, tensors) for k, v in value}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    return obj


def _first_few(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", … (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
