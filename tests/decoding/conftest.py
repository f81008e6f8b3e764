"""Shared set-up for the decoding tests: tiny models run fastest on one thread."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny matmuls gain nothing from threads and lose a lot on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
