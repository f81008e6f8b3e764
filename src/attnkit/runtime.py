"""Run-time plumbing shared by every layer: device choice, seeding, environment report.

This module sits at the bottom of the dependency order: it imports only the standard
library and torch, never another ``attnkit`` module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import platform
import random
import re

import torch

__all__ = [
    "DistributedContext",
    "autocast",
    "describe_cpu",
    "describe_environment",
    "init_distributed",
    "resolve_precision",
    "seed_everything",
    "select_device",
]

_DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")

_CUDA_INDEXED = re.compile(r"cuda:(\d+)")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(device: str = "auto") -> torch.device:
    """Turn a device name into a :class:`torch.device`, checking that it exists here.

    Args:
        device: ``"auto"`` picks CUDA if available, else Apple's MPS if available, else the
            CPU. ``"cpu"``, ``"cuda"``, ``"cuda:N"`` and ``"mps"`` ask for that device
            explicitly and fail if it is not available.

    Returns:
        The chosen device.

    Raises:
        ValueError: ``device`` is not one of the names above.
        RuntimeError: an explicitly requested accelerator is not available.

    Examples:
        >>> select_device("cpu")
        device(type='cpu')
    """
    if not isinstance(device, str):
        raise ValueError(
            f"device must be a string, one of {', '.join(_DEVICE_CHOICES)}; "
            f"got {type(device).__name__}"
        )
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    indexed = _CUDA_INDEXED.fullmatch(name)
    if name == "cuda" or indexed:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} was requested but CUDA is not available; "
                "use device='auto' or 'cpu'"
            )
        if indexed and int(indexed.group(1)) >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible"
            )
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise RuntimeError(
                f"device={device!r} was requested but MPS is not available; "
                "use device='auto' or 'cpu'"
            )
        return torch.device("mps")
    raise ValueError(f"unknown device {device!r}; expected one of {', '.join(_DEVICE_CHOICES)}")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy (if installed) and torch (CPU and all CUDA devices).

    Args:
        seed: an integer in ``[0, 2**32)`` (the range every one of the generators accepts).

    Returns:
        A fresh CPU :class:`torch.Generator` seeded with ``seed``, for code that prefers an
        explicit generator over the global one (data shuffling, sampling).

    Raises:
        ValueError: ``seed`` is not an integer in range.

    Examples:
        >>> g = seed_everything(0)
        >>> a = torch.rand(2, generator=g)
        >>> torch.equal(a, torch.rand(2, generator=seed_everything(0)))
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency, but seeding needs none
        pass
    else:
        np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _attnkit_version() -> str:
    try:
        return importlib.metadata.version("attnkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def describe_cpu() -> str:
    """The processor and the cores this process may use, e.g. ``"Intel(R) Xeon(R)
    Processor, 2 cores"`` — recorded beside every measured figure, since timings only
    compare within one machine."""
    model = platform.processor() or platform.machine() or "unknown CPU"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def describe_environment() -> dict[str, str]:
    """Describe the software and hardware attnkit runs on, for bug reports and run logs.

    Returns:
        An ordered mapping of name to value, all strings: ``attnkit``, ``python``,
        ``platform``, ``cpu`` (:func:`describe_cpu`), ``torch``, ``device`` (what
        ``select_device("auto")`` picks), ``num_threads`` (torch intra-op threads) and
        ``cuda_available``.
    """
    cuda = torch.cuda.is_available()
    info = {
        "attnkit": _attnkit_version(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": describe_cpu(),
        "torch": torch.__version__,
        "device": str(select_device("auto")),
        "num_threads": str(torch.get_num_threads()),
        "cuda_available": str(cuda),
    }
    if cuda:
        info["cuda_devices"] = ", ".join(
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        )
    return info


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn ``"auto"`` into a concrete precision for ``device``.

    ``auto`` is bf16 on a CUDA device that supports it, fp16 on other CUDA devices, and
    fp32 elsewhere (CPU autocast is slower than fp32 for these model sizes). Asking for
    fp16 off CUDA is an error; bf16 on CPU is allowed (it can save memory).
    """
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision='fp16' needs a CUDA device, not {device.type}; use 'fp32' or 'bf16'"
        )
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}; choose auto, fp32, bf16 or fp16")
    return precision


def autocast(device: torch.device, precision: str):
    """The autocast context for a resolved precision (a no-op context for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    """This process's place among the data-parallel workers started by ``torchrun``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and figures."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> tuple[DistributedContext, torch.device]:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE > 1``).

    Uses NCCL with one GPU per process (``LOCAL_RANK``) on CUDA and gloo on the CPU.
    Returns the context and the device this process should use.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(), select_device(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    chosen = select_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend=backend)
    return DistributedContext(rank, world_size, local_rank), chosen
