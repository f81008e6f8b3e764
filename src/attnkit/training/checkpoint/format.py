"""The on-disk format of one checkpoint directory, and how it is read back safely.

Files inside ``step-NNNNNNNN/``::

    model.safetensors      weights; a tied parameter is stored once and its aliases restored
    optimizer.safetensors  optimizer state tensors, flat keys such as ``state.3.exp_avg``
    optimizer.json         the rest of the optimizer state dict (param_groups, scalars)
    rng.safetensors        random-number-generator states
    state.json             format version, step, trainer state, size + sha256 of each file

:func:`pack_checkpoint` turns a state into these files' bytes; :func:`read_checkpoint` reads
one directory back, checking ``state.json``, every file's size and sha256, and refusing a
pickle or ``torch.save`` archive before parsing it. Tensors are read with safetensors,
everything else with :mod:`json`. Where the directory lives and how it is written is the
business of :mod:`.store` and :mod:`.atomic`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as _safetensors_load
from safetensors.torch import save as _safetensors_save
from torch import Tensor

from attnkit.training.checkpoint.atomic import json_bytes
from attnkit.training.checkpoint.errors import CheckpointError, one_line

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "OPTIMIZER_FILE",
    "OPTIMIZER_JSON",
    "RNG_FILE",
    "STATE_FILE",
    "Checkpoint",
    "pack_checkpoint",
    "read_checkpoint",
]

FORMAT = "attnkit.checkpoint"
FORMAT_VERSION = 1

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"
_PAYLOAD_FILES = (MODEL_FILE, OPTIMIZER_FILE, OPTIMIZER_JSON, RNG_FILE)
_STATE_KEYS = ("format", "format_version", "step", "trainer_state", "files")

_ALIASES = "attnkit.aliases"  # safetensors metadata: {alias key: stored key} for shared tensors


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
            checkpoint was saved without an optimizer or read with ``weights_only``.
        trainer_state: the JSON dict given to :func:`save_checkpoint` (JSON turns tuples
            into lists and dict keys into strings).
        rng_state: the random-number-generator states (empty if none were saved, or read
            with ``weights_only``).
    """

    path: Path
    step: int
    model_state: dict[str, Tensor] = field(repr=False)
    optimizer_state: dict[str, Any] | None = field(repr=False)
    trainer_state: dict[str, Any] = field(repr=False)
    rng_state: dict[str, Tensor] = field(default_factory=dict, repr=False)


# ---------------------------------------------------------------------- writing


def pack_checkpoint(
    *,
    step: int,
    model_state: Mapping[str, Tensor],
    optimizer: torch.optim.Optimizer | None,
    trainer_state: dict[str, Any],
    rng_state: Mapping[str, Tensor] | None,
) -> dict[str, bytes]:
    """The files of one checkpoint, file name → bytes, ``state.json`` last.

    Everything is serialised in memory, so a failure here touches no file.

    Args:
        step: the training step recorded in ``state.json``.
        model_state: the bare model's state dict.
        optimizer: its full state is packed (tensors in safetensors, the rest in JSON), or
            ``None``.
        trainer_state: already known to be JSON (a dict after a JSON round trip).
        rng_state: tensors to restore the random generators with, or ``None``.

    Raises:
        CheckpointError: a tensor or an optimizer state value cannot be stored.
    """
    payload: dict[str, bytes] = {
        MODEL_FILE: _pack_tensors(model_state, f"step {step}: the model weights")
    }
    if optimizer is not None:
        tensors: dict[str, Tensor] = {}
        encoded = _encode(optimizer.state_dict(), "", tensors, f"step {step}: optimizer state")
        payload[OPTIMIZER_FILE] = _pack_tensors(tensors, f"step {step}: the optimizer state")
        payload[OPTIMIZER_JSON] = json_bytes(
            {"optimizer": type(optimizer).__name__, "state_dict": encoded}
        )
    if rng_state is not None:
        payload[RNG_FILE] = _pack_tensors(rng_state, f"step {step}: the random state")
    payload[STATE_FILE] = json_bytes(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "step": step,
            "trainer_state": trainer_state,
            "files": {
                name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in payload.items()
            },
            "torch_version": torch.__version__,
        }
    )
    return payload


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
        raise CheckpointError(f"cannot save {what}: {one_line(exc)}") from exc


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


# ---------------------------------------------------------------------- reading


def read_checkpoint(
    directory: Path,
    *,
    map_location: str | torch.device = "cpu",
    verify: bool = True,
    weights_only: bool = False,
) -> Checkpoint:
    """Read the checkpoint in ``directory``: every file is checked against the sizes and
    sha256 in state.json (``verify``) and parsed without unpickling anything.

    Args:
        directory: one checkpoint directory (the one that holds ``state.json``).
        map_location: device for the model weights; optimizer and RNG states stay on the CPU.
        verify: check sizes and sha256.
        weights_only: read ``state.json`` and the weights only, for using the model rather
            than training it on: a damaged optimizer or RNG file is then not read at all
            (``optimizer_state`` is ``None``, ``rng_state`` empty).

    Raises:
        CheckpointError: ``state.json`` is absent or corrupt, or a file is missing,
            truncated, corrupt, a pickle, or inconsistent — one line naming the file.
    """
    state = _read_state(directory)
    files = state["files"]
    model_state = _unpack_tensors(
        directory / MODEL_FILE, _read_payload(directory, MODEL_FILE, files, verify), map_location
    )
    optimizer_state = None
    has_tensors, has_json = OPTIMIZER_FILE in files, OPTIMIZER_JSON in files
    if weights_only:
        has_tensors = has_json = False
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
    if RNG_FILE in files and not weights_only:
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


def _read_state(directory: Path) -> dict[str, Any]:
    path = directory / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not an attnkit checkpoint: no {STATE_FILE}")
    try:
        state = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CheckpointError(f"{path} is not valid JSON: {one_line(exc)}") from exc
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
        raise CheckpointError(f"{path} is corrupt or truncated: {one_line(exc)}") from exc
    metadata = header.get("__metadata__") or {}
    try:
        aliases = json.loads(metadata.get(_ALIASES, "{}")) if isinstance(metadata, dict) else {}
        for alias, target in aliases.items():
            tensors[alias] = tensors[target]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is corrupt: bad alias table ({one_line(exc)})") from exc
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
        raise CheckpointError(f"{path} is corrupt: {one_line(exc)}") from exc
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
