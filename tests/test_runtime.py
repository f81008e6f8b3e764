"""Tests of attnkit.runtime: device choice, seeding, environment report."""

import random

import numpy as np
import pytest
import torch

from attnkit.runtime import describe_environment, seed_everything, select_device


def _expected_auto() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def test_auto_picks_best_available_device():
    assert select_device("auto").type == _expected_auto()
    assert select_device().type == _expected_auto()


def test_cpu_is_always_available():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(" CPU ") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_requested_without_cuda_raises(name):
    with pytest.raises(RuntimeError, match=r"CUDA is not available; use device='auto' or 'cpu'"):
        select_device(name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_requested_with_cuda():
    assert select_device("cuda").type == "cuda"
    with pytest.raises(RuntimeError, match="CUDA device"):
        select_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_mps_requested_without_mps_raises():
    with pytest.raises(RuntimeError, match="MPS is not available"):
        select_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "", "cuda:x"])
def test_unknown_device_names_allowed_values(bad):
    with pytest.raises(ValueError, match=r"unknown device .*auto, cpu, cuda, cuda:N, mps"):
        select_device(bad)


def test_non_string_device_is_value_error():
    with pytest.raises(ValueError, match="device must be a string"):
        select_device(0)


def _draw(generator: torch.Generator) -> tuple:
    return (
        random.random(),
        float(np.random.rand()),
        torch.rand(3).tolist(),
        torch.rand(3, generator=generator).tolist(),
    )


def test_seed_everything_reproduces_all_generators():
    first = _draw(seed_everything(1234))
    second = _draw(seed_everything(1234))
    other = _draw(seed_everything(4321))
    assert first == second
    for a, b in zip(first, other, strict=True):
        assert a != b


def test_seed_everything_returns_independent_generator():
    generator = seed_everything(7)
    torch.rand(5)  # consuming the global generator does not move the returned one
    assert torch.equal(
        torch.rand(4, generator=generator),
        torch.rand(4, generator=torch.Generator().manual_seed(7)),
    )


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
        seed_everything(bad)


def test_describe_environment():
    info = describe_environment()
    assert {"attnkit", "python", "torch", "device", "num_threads", "cuda_available"} <= set(info)
    cpu, cores = info["cpu"].rsplit(", ", 1)
    assert cpu and cores.endswith(" cores") and int(cores.split()[0]) >= 1
    assert all(isinstance(v, str) for v in info.values())
    assert info["torch"] == torch.__version__
    assert info["device"] == str(select_device("auto"))
    assert int(info["num_threads"]) == torch.get_num_threads()
    assert info["cuda_available"] == str(torch.cuda.is_available())
