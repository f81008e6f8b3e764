"""Shared fixtures for the ``attnkit.data`` tests: a private corpus cache and the
Shakespeare text, converted once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnkit.data.corpora import load_corpus


def _session_cache(factory: pytest.TempPathFactory) -> Path:
    return factory.getbasetemp() / "attnkit-cache"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No data test reads or writes the user's real cache directory."""
    monkeypatch.setenv("ATTNKIT_CACHE_DIR", str(_session_cache(tmp_path_factory)))


@pytest.fixture(scope="session")
def shakespeare(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The full converted corpus (converted once, cached in the session's temp dir)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTNKIT_CACHE_DIR", str(_session_cache(tmp_path_factory)))
        return load_corpus("shakespeare")
