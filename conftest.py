"""Shared pytest set-up: names available to the docstring examples (doctests), and a
guard on the process-wide PyTorch settings that every test must leave as it found them."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace["torch"] = torch


def _process_settings() -> dict[str, object]:
    return {
        "intra-op threads": torch.get_num_threads(),
        "oneDNN enabled": torch.backends.mkldnn.enabled,
        "grad mode": torch.is_grad_enabled(),
        "default dtype": torch.get_default_dtype(),
    }


@pytest.fixture(autouse=True)
def _process_settings_unchanged():
    """A test (or the code it runs) that changes a process-wide setting and does not put
    it back makes later tests in the same process compute differently (a leaked oneDNN
    switch once broke the bit-for-bit resume test several files later). Fail the test
    that leaks, not the one that suffers."""
    before = _process_settings()
    yield
    after = _process_settings()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if changed:
        torch.set_num_threads(before["intra-op threads"])
        torch.backends.mkldnn.enabled = before["oneDNN enabled"]
        torch.set_grad_enabled(before["grad mode"])
        torch.set_default_dtype(before["default dtype"])
        pytest.fail(f"the test changed process-wide PyTorch settings (before, after): {changed}")
