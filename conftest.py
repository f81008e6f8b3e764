"""Shared pytest set-up: names available to the docstring examples (doctests)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace["torch"] = torch
