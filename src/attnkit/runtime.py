"""Run-time plumbing shared by every layer: device choice, seeding, environment report.

This module sits at the bottom of the dependency order: it imports only the standard
library and torch, never another ``attnkit`` module.
"""

from __future__ import annotations

import importlib.metadata
import platform
import random
import re

import torch

__all__ = ["describe_environment", "seed_everything", "select_device"]

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


def describe_environment() -> dict[str, str]:
    """Describe the software and hardware attnkit runs on, for bug reports and run logs.

    Returns:
        An ordered mapping of name to value, all strings: ``attnkit``, ``python``,
        ``platform``, ``torch``, ``device`` (what ``select_device("auto")`` picks),
        ``num_threads`` (torch intra-op threads) and ``cuda_available``.
    """
    cuda = torch.cuda.is_available()
    info = {
        "attnkit": _attnkit_version(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
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
