"""Shared fixtures for the ``attnkit.data`` tests: a private converted corpora directory and
the Shakespeare text, converted once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnkit.data.corpora import load_corpus


def _session_corpus_dir(factory: pytest.TempPathFactory) -> Path:
    return factory.getbasetemp() / "attnkit-corpora"


@pytest.fixture(autouse=True)
def _private_corpus_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No data test reads or writes the user's real converted corpora directory."""
    monkeypatch.setenv("ATTNKIT_CORPUS_DIR", str(_session_corpus_dir(tmp_path_factory)))
    monkeypatch.delenv("ATTNKIT_CACHE_DIR", raising=False)  # the older name, tested alone


@pytest.fixture(scope="session")
def shakespeare(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The full converted corpus (converted once, kept in the session's temp dir)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTNKIT_CORPUS_DIR", str(_session_corpus_dir(tmp_path_factory)))
        patch.delenv("ATTNKIT_CACHE_DIR", raising=False)
        return load_corpus("shakespeare")
