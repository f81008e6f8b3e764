"""Tokenizers: exact round trips on hard Unicode, unknown-input policies, specials,
save/load, error messages, and BPE determinism and compression."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnkit.data.tokenizers import (
    TOKENIZERS,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
    split_words,
    tokenizer_from_dict,
    train_tokenizer,
)
from attnkit.protocols import Tokenizer

UNICODE_CORPUS = (
    "Café déjà vu — NFC: é è ê ñ ü Å; "
    + unicodedata.normalize("NFD", "NFD: é è ê ñ ü Å, naïve café")
    + "\nStraße, STRASSE, ẞ ß; İstanbul ǅ ﬁ\n"
    "CJK: 日本語のテキスト、中文字符，한국어 텍스트。\n"
    "RTL: שלום עולם — مرحبا بالعالم (עברית: ١٢٣)\n"
    "Emoji: 👩‍👩‍👧‍👦 👨🏿‍💻 👍🏻👍🏽👍🏿 🏳️‍🌈 ❤️ 🇫🇷\n"
    "Marks: e\u0301\u0323 a\u20dd q\u0307\u0323 Z\u0351\u036b\u0343\u036a̺\n"
    "Tabs\tand\t\ttabs;  two  spaces,     five spaces\r\nCRLF line\n\n\nend \u00a0nbsp\u2028"
)
SURROGATE_TEXTS = ["a\ud800b", "\udfff", "ok \udc80"]


@pytest.fixture(scope="module")
def sample(shakespeare: str) -> str:
    """~200 kB of Shakespeare for BPE training (keeps the tests fast)."""
    return shakespeare[:200_000]


@pytest.fixture(scope="module")
def bpe(sample: str) -> BPETokenizer:
    return BPETokenizer.train(sample + UNICODE_CORPUS, vocab_size=1000)


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("kind", TOKENIZERS)
def test_round_trip_on_the_unicode_corpus(kind: str) -> None:
    tokenizer = train_tokenizer(kind, UNICODE_CORPUS, vocab_size=600)
    ids = tokenizer.encode(UNICODE_CORPUS)
    assert all(isinstance(i, int) and 0 <= i < tokenizer.vocab_size for i in ids)
    assert tokenizer.decode(ids) == UNICODE_CORPUS
    for line in UNICODE_CORPUS.splitlines(keepends=True):
        assert tokenizer.decode(tokenizer.encode(line)) == line


def test_char_ids_are_code_points_sorted() -> None:
    tokenizer = train_tokenizer("char", UNICODE_CORPUS)
    assert list(tokenizer.chars) == sorted(set(UNICODE_CORPUS))
    assert len(tokenizer.encode(UNICODE_CORPUS)) == len(UNICODE_CORPUS)
    assert tokenizer.vocab_size == len(set(UNICODE_CORPUS))


ALPHABET = "abcé\u0301 \t\n😀\u200d日ש"
CHAR_TOKENIZER = CharTokenizer.train(ALPHABET)


@given(st.text(alphabet=ALPHABET))
def test_char_round_trip_on_text_of_known_characters(text: str) -> None:
    assert CHAR_TOKENIZER.decode(CHAR_TOKENIZER.encode(text)) == text


@given(st.text(min_size=1))
def test_char_round_trip_when_trained_on_the_text(text: str) -> None:
    tokenizer = CharTokenizer.train(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text


@settings(deadline=None)
@given(st.text())
def test_bpe_round_trip_on_any_text(bpe: BPETokenizer, text: str) -> None:
    assert bpe.decode(bpe.encode(text)) == text


@given(st.text())
def test_split_words_loses_nothing(text: str) -> None:
    assert "".join(split_words(text)) == text


WORD_TOKENIZER = WordTokenizer.train("the cat sat on the mat.\nThe dog, the cat!", vocab_size=12)


@given(st.text())
def test_word_round_trip_with_unknown_pieces_as_unk(text: str) -> None:
    known = set(WORD_TOKENIZER.words)
    expected = "".join(p if p in known else "<unk>" for p in split_words(text))
    assert WORD_TOKENIZER.decode(WORD_TOKENIZER.encode(text)) == expected


@settings(deadline=None)
@given(st.text(min_size=1))
def test_word_round_trip_when_trained_on_the_text(text: str) -> None:
    tokenizer = WordTokenizer.train(text, vocab_size=len(text) + 1)
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_words_keep_their_combining_marks() -> None:
    nfd = unicodedata.normalize("NFD", "élève naïve")
    assert split_words(nfd) == [unicodedata.normalize("NFD", "élève"), " ", "nai\u0308ve"]
    assert split_words("Hi,  you!\n") == ["Hi", ",", "  ", "you", "!", "\n"]


# ---------------------------------------------------------------- unknown input
def test_unknown_character_error_names_it_and_its_index() -> None:
    tokenizer = train_tokenizer("char", "hello world")
    with pytest.raises(
        ValueError, match=r"unknown character 'x' \(U\+0078 LATIN SMALL LETTER X\) at index 4"
    ):
        tokenizer.encode("hellx")
    nfd = unicodedata.normalize("NFD", "hé")
    with pytest.raises(
        ValueError, match=r"\(U\+0301 COMBINING ACUTE ACCENT\) at index 2.*unk=True"
    ):
        tokenizer.encode(nfd)


def test_char_unk_maps_unknown_characters_to_replacement_character() -> None:
    tokenizer = train_tokenizer("char", "abc", unk=True)
    assert tokenizer.unk_id == 0 and tokenizer.vocab_size == 4
    ids = tokenizer.encode("a😀c")
    assert ids == [1, 0, 3]
    assert tokenizer.decode(ids) == "a\ufffdc"


def test_char_vocab_size_is_a_bound() -> None:
    with pytest.raises(ValueError, match=r"3 distinct characters.*vocab_size=2.*unk=True"):
        train_tokenizer("char", "abc", vocab_size=2)
    tokenizer = train_tokenizer("char", "aaabbc", vocab_size=3, unk=True)
    assert tokenizer.chars == ("a", "b") and tokenizer.decode(tokenizer.encode("abc")) == "ab\ufffd"


def test_word_vocabulary_keeps_most_frequent_with_deterministic_ties() -> None:
    tokenizer = train_tokenizer("word", "b a b a c", vocab_size=3)
    assert tokenizer.specials == ("<unk>",) and tokenizer.unk_id == 0
    assert tokenizer.words == (" ", "a")  # " "×4, then a×2 and b×2 tied: "a" < "b"
    assert tokenizer.decode(tokenizer.encode("a b c")) == "a <unk> <unk>"


@pytest.mark.parametrize("kind", TOKENIZERS)
@pytest.mark.parametrize("bad", SURROGATE_TEXTS)
def test_lone_surrogates_are_rejected(kind: str, bad: str) -> None:
    with pytest.raises(ValueError, match=r"lone surrogate '\\ud[89a-f][0-9a-f]{2}' \(U\+D"):
        train_tokenizer(kind, bad + " text", vocab_size=300)
    tokenizer = train_tokenizer(kind, "some text", vocab_size=300)
    with pytest.raises(ValueError, match=r"lone surrogate .* at index \d+"):
        tokenizer.encode(bad)


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_decode_checks_ids_and_accepts_tensors(kind: str) -> None:
    tokenizer = train_tokenizer(kind, "to be or not to be", vocab_size=300)
    ids = tokenizer.encode("to be")
    assert tokenizer.decode(torch.tensor(ids)) == "to be"
    with pytest.raises(ValueError, match=rf"token id {tokenizer.vocab_size} at position 1"):
        tokenizer.decode([ids[0], tokenizer.vocab_size])
    with pytest.raises(ValueError, match="token id -1 at position 0"):
        tokenizer.decode([-1])
    assert tokenizer.decode([]) == ""


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_empty_training_text_is_an_error(kind: str) -> None:
    with pytest.raises(ValueError, match="empty text"):
        train_tokenizer(kind, "")


def test_unknown_kind_and_too_small_vocabularies() -> None:
    with pytest.raises(ValueError, match=r"unknown tokenizer kind 'wordpiece'.*char, word, bpe"):
        train_tokenizer("wordpiece", "text")
    with pytest.raises(ValueError, match=r"too small for byte-level BPE.*256"):
        train_tokenizer("bpe", "text", vocab_size=200)
    with pytest.raises(ValueError, match="no room for words"):
        train_tokenizer("word", "text", vocab_size=1)


# ---------------------------------------------------------------- special tokens
SPECIALS = ("<pad>", "<bos>", "<eos>")


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_specials_take_the_first_ids_and_are_never_produced_by_text(kind: str) -> None:
    text = "to be or not to be <pad> <bos>"
    tokenizer = train_tokenizer(kind, text, vocab_size=300, specials=SPECIALS)
    assert tokenizer.specials[:3] == SPECIALS
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2)
    ids = tokenizer.encode(text)
    assert not set(ids) & {0, 1, 2}
    assert tokenizer.decode(ids) == text
    framed = [tokenizer.bos_id, *tokenizer.encode("to be"), tokenizer.eos_id, 0, 0]
    assert tokenizer.decode(framed) == "to be"
    assert tokenizer.decode(framed, skip_special=False) == "<bos>to be<eos><pad><pad>"


def test_special_ids_are_none_when_absent() -> None:
    for kind in ("char", "bpe"):
        tokenizer = train_tokenizer(kind, "plain text", vocab_size=300)
        assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (
            None,
            None,
            None,
            None,
        )
    word = train_tokenizer("word", "plain text")
    assert (word.pad_id, word.unk_id) == (None, 0)


def test_specials_must_be_distinct_non_empty_strings() -> None:
    with pytest.raises(ValueError, match="distinct"):
        train_tokenizer("char", "abc", specials=("<pad>", "<pad>"))
    with pytest.raises(ValueError, match="non-empty"):
        train_tokenizer("word", "abc", specials=("",))


# ---------------------------------------------------------------- save / load
@pytest.mark.parametrize("kind", TOKENIZERS)
def test_save_then_load_gives_identical_encodings(kind: str, tmp_path) -> None:
    tokenizer = train_tokenizer(
        kind, UNICODE_CORPUS, vocab_size=600, specials=SPECIALS, unk=kind == "char"
    )
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    loaded = load_tokenizer(path)
    assert type(loaded) is type(tokenizer) and loaded == tokenizer
    assert loaded.kind == kind and json.loads(path.read_text(encoding="utf-8"))["kind"] == kind
    assert loaded.vocab_size == tokenizer.vocab_size and loaded.specials == tokenizer.specials
    assert (loaded.pad_id, loaded.bos_id, loaded.eos_id, loaded.unk_id) == (
        tokenizer.pad_id,
        tokenizer.bos_id,
        tokenizer.eos_id,
        tokenizer.unk_id,
    )
    probe = UNICODE_CORPUS + " <pad> unseen words ☃"
    assert loaded.encode(probe) == tokenizer.encode(probe)
    assert loaded.decode(loaded.encode(UNICODE_CORPUS)) == UNICODE_CORPUS
    assert tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict()))) == tokenizer
    assert [p.name for p in tmp_path.iterdir()] == ["tokenizer.json"]


def test_load_missing_file(tmp_path) -> None:
    path = tmp_path / "tokenizer.json"
    with pytest.raises(FileNotFoundError, match=f"no such file: {re.escape(str(path))}"):
        load_tokenizer(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ('{"kind": "char", "chars": ["a"', r"is not valid JSON \(.* line 1, column \d+\)"),
        ("[1, 2]", "a tokenizer description is a JSON object, got list"),
        ('{"format": "other", "kind": "char"}', "not an attnkit tokenizer"),
        ('{"kind": "sentencepiece"}', "unknown tokenizer kind 'sentencepiece'.*char, word, bpe"),
        ('{"kind": "char"}', "invalid char tokenizer: missing field 'chars'"),
        ('{"kind": "char", "chars": ["ab"]}', "invalid char tokenizer: each character"),
        ('{"kind": "word", "words": ["a", "a"]}', "invalid word tokenizer: .*distinct"),
        ('{"kind": "bpe", "tokenizer": "{not json"}', "invalid bpe tokenizer: the Hugging Face"),
        ('{"kind": "char", "version": 99, "chars": []}', "version 99 is newer"),
    ],
)
def test_load_corrupt_file_names_the_file(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}.*{message}"):
        load_tokenizer(path)


# ---------------------------------------------------------------- BPE specifics
def test_bpe_training_is_deterministic(sample: str, bpe: BPETokenizer) -> None:
    again = BPETokenizer.train(sample + UNICODE_CORPUS, vocab_size=1000)
    assert again.to_dict() == bpe.to_dict()
    assert again.encode(sample[:5000]) == bpe.encode(sample[:5000])


def test_bpe_compresses_english(shakespeare: str, bpe: BPETokenizer) -> None:
    held_out = shakespeare[300_000:350_000]
    assert bpe.vocab_size == 1000
    assert len(bpe.encode(held_out)) < len(held_out) / 2


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_every_tokenizer_satisfies_the_protocol(kind: str) -> None:
    tokenizer = train_tokenizer(kind, "to be or not to be", vocab_size=300)
    assert isinstance(tokenizer, Tokenizer)
    assert tokenizer.kind == kind and isinstance(tokenizer.vocab_size, int)
