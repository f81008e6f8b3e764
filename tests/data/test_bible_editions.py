"""The repairs of each Bible edition, on hand-written verses (the whole texts are checked
in ``test_bible.py``)."""

from __future__ import annotations

from attnkit.data import bible_editions
from attnkit.data.bible_editions import clean_reina_valera, clean_segond, clean_web


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
    spellings = bible_editions._usual_spellings(
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
