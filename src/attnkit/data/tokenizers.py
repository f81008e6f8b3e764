"""Tokenizers: characters, words and byte-level BPE behind one small interface.

Every tokenizer has ``kind``, ``vocab_size``, ``specials`` and the special ids ``pad_id``,
``bos_id``, ``eos_id``, ``unk_id`` (``None`` when absent); ``encode(text) -> list[int]``,
``decode(ids) -> str``, ``to_dict()`` / ``from_dict(d)`` (JSON-able) and ``save(path)``.
Special tokens (e.g. ``("<pad>", "<bos>", "<eos>")`` for translation) take ids ``0..``
in the order given; encoding text never produces them, not even when the text contains
the literal string ``"<pad>"``, and ``decode`` leaves them out unless
``skip_special=False``. The one exception is the mask token ``"[MASK]"`` of a
masked-language model: a tokenizer that has it among its specials (``mask_id`` is then
set) encodes each literal ``"[MASK]"`` in a text as ``mask_id``, so that a user can write
the gap to fill (``"the [MASK] of the Lord"``).

Round trips and unknown input:

* ``char`` — the vocabulary is the distinct characters (code points) of the training
  text, sorted, so ``decode(encode(s)) == s`` for any text made of those characters
  (NFD accents, emoji ZWJ sequences, tabs, ...). An unknown character is an error naming
  it and its index, unless the tokenizer has ``<unk>`` (``unk=True``): then it maps to
  ``unk_id``, which decodes to U+FFFD ``�``.
* ``word`` — text is cut into words (letters, digits, ``_`` and combining marks), single
  punctuation or symbol characters, and whitespace runs, so nothing is lost; the
  ``vocab_size`` most frequent pieces are kept. ``<unk>`` is always present (words are an
  open class) and an unknown piece decodes to the string ``"<unk>"``.
* ``bpe`` — byte-level BPE trained with Hugging Face ``tokenizers``: every text is
  encodable and ``decode(encode(s)) == s`` exactly. ``unk`` is ignored (nothing is unknown).

Text with a lone surrogate (e.g. ``"\\ud800"``, not valid Unicode) is rejected with a
``ValueError`` by every tokenizer.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from attnkit.config import TOKENIZER_KINDS
from attnkit.data.text import read_text_file, write_text_atomic

__all__ = [
    "TOKENIZERS",
    "BPETokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "load_tokenizer",
    "tokenizer_from_dict",
    "train_tokenizer",
    "split_words",
    "AnyTokenizer",
]

TOKENIZERS = TOKENIZER_KINDS  # one list, kept in the torch-free config
FORMAT = "attnkit-tokenizer"
FORMAT_VERSION = 1
UNK = "<unk>"
UNK_CHAR = "\ufffd"  # what CharTokenizer.decode writes for unk_id
MASK = "[MASK]"  # the gap a masked-language model fills; text may write it (see above)
_SPECIAL_IDS = (
    ("pad_id", "<pad>"),
    ("bos_id", "<bos>"),
    ("eos_id", "<eos>"),
    ("unk_id", UNK),
    ("mask_id", MASK),
)


# ---------------------------------------------------------------- shared checks
def _describe(char: str) -> str:
    """``'é' (U+00E9 LATIN SMALL LETTER E WITH ACUTE)``: readable even for invisible marks."""
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def _check_text(text: str) -> None:
    """Reject non-strings and text that is not valid Unicode (lone surrogates)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"text contains a lone surrogate {_describe(text[error.start])} at index "
            f"{error.start}; it is not valid Unicode (decode bytes with errors='replace')"
        ) from None


def _check_specials(specials: Iterable[str]) -> tuple[str, ...]:
    specials = tuple(specials)
    for special in specials:
        if not isinstance(special, str) or not special:
            raise ValueError(f"special tokens must be non-empty strings, got {special!r}")
    if len(set(specials)) != len(specials):
        raise ValueError(f"special tokens must be distinct, got {list(specials)}")
    return specials


def _with_unk(specials: Sequence[str], unk: bool) -> tuple[str, ...]:
    specials = _check_specials(specials)
    return (*specials, UNK) if unk and UNK not in specials else specials


def _check_ids(ids: Iterable[int], vocab_size: int) -> list[int]:
    """Token ids as a list of ints in ``[0, vocab_size)`` (tensors and arrays accepted)."""
    if hasattr(ids, "tolist"):  # torch.Tensor, numpy.ndarray
        ids = ids.tolist()
    ids = list(ids)
    try:
        bad = ids and (min(ids) < 0 or max(ids) >= vocab_size)
    except TypeError:
        raise TypeError("token ids must be integers") from None
    if bad:
        position, value = next((p, i) for p, i in enumerate(ids) if not 0 <= i < vocab_size)
        raise ValueError(
            f"token id {value} at position {position} is outside the vocabulary [0, {vocab_size})"
        )
    return ids


class _TokenizerBase:
    """What the three tokenizers share: special ids, equality, JSON saving."""

    kind: ClassVar[str]
    specials: tuple[str, ...]
    vocab_size: int
    pad_id: int | None
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    mask_id: int | None
    # Byte-level BPE writes a word with its leading space (" house" is one token), so the
    # space before a "[MASK]" belongs to the hidden word (as RoBERTa's <mask> lstrip).
    _mask_takes_space: ClassVar[bool] = False

    def _set_special_ids(self, id_of: Mapping[str, int]) -> None:
        for attribute, token in _SPECIAL_IDS:
            setattr(self, attribute, id_of.get(token))

    def _has_masks(self, text: str) -> bool:
        return self.mask_id is not None and MASK in text

    def _encode_around_masks(self, text: str) -> list[int]:
        """``text`` with each literal ``"[MASK]"`` as ``mask_id`` and the rest encoded."""
        pieces = text.split(MASK)
        ids: list[int] = []
        for index, piece in enumerate(pieces):
            if index:
                ids.append(self.mask_id)
            before_mask = index < len(pieces) - 1
            if self._mask_takes_space and before_mask and piece.endswith(" "):
                piece = piece[:-1]
            if piece:
                ids.extend(self.encode(piece))  # type: ignore[attr-defined]
        return ids

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer as JSON, atomically (``load_tokenizer`` reads it back).

        Args:
            path: destination file, conventionally ``tokenizer.json``.

        Returns:
            None.
        """
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        write_text_atomic(path, text + "\n")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _TokenizerBase):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, specials={self.specials})"


def _header(kind: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind}


def _check_header(d: Mapping[str, Any], kind: str) -> None:
    if d.get("kind") != kind:
        raise ValueError(f"expected a {kind!r} tokenizer, got kind={d.get('kind')!r}")
    version = d.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"tokenizer format version {version!r} is newer than this attnkit supports "
            f"({FORMAT_VERSION}); upgrade attnkit"
        )


# ---------------------------------------------------------------- characters
class CharTokenizer(_TokenizerBase):
    """One token per character (Unicode code point), as in nanoGPT's Shakespeare model.

    Ids ``0..len(specials)-1`` are the special tokens, then the characters in the order
    given (``train`` sorts them by code point). A character outside the vocabulary raises
    ``ValueError`` naming it and its index, unless ``"<unk>"`` is among the specials: then
    it encodes to ``unk_id`` and ``unk_id`` decodes to U+FFFD ``�``.

    Args:
        chars: the vocabulary's characters, distinct, one code point each.
        specials: special tokens placed first (e.g. ``("<pad>", "<bos>", "<eos>")``).

    Examples:
        >>> tok = CharTokenizer.train("hello world")
        >>> tok.vocab_size, tok.encode("hold")
        (8, [3, 5, 4, 1])
        >>> tok.decode(tok.encode("hold"))
        'hold'
    """

    kind: ClassVar[str] = "char"

    def __init__(self, chars: Sequence[str], *, specials: Sequence[str] = ()) -> None:
        self.specials = _check_specials(specials)
        self.chars = tuple(chars)
        for char in self.chars:
            if not isinstance(char, str) or len(char) != 1:
                raise ValueError(f"each character must be a 1-character string, got {char!r}")
            _check_text(char)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("the characters of a char vocabulary must be distinct")
        offset = len(self.specials)
        self.vocab_size = offset + len(self.chars)
        self._set_special_ids({token: i for i, token in enumerate(self.specials)})
        self._char_to_id = {char: offset + i for i, char in enumerate(self.chars)}
        shown = [UNK_CHAR if token == UNK else "" for token in self.specials]
        self._decode_table = [*shown, *self.chars]
        self._decode_table_specials = [
            UNK_CHAR if token == UNK else token for token in self.specials
        ] + list(self.chars)

    @classmethod
    def train(
        cls,
        text: str,
        *,
        vocab_size: int | None = None,
        specials: Sequence[str] = (),
        unk: bool = False,
    ) -> CharTokenizer:
        """Build the vocabulary from the distinct characters of ``text``.

        Args:
            text: training text.
            vocab_size: upper bound on the vocabulary (specials included); ``None`` for no
                bound. With ``unk=True`` the most frequent characters are kept; without it,
                too many distinct characters is an error.
            specials: special tokens placed first.
            unk: add ``"<unk>"`` so that unknown characters encode to ``unk_id``.

        Returns:
            The tokenizer; its characters are sorted by code point.
        """
        _check_text(text)
        if not text:
            raise ValueError("cannot train a tokenizer on empty text")
        specials = _with_unk(specials, unk)
        counts = Counter(text)
        if vocab_size is not None and len(specials) + len(counts) > vocab_size:
            room = vocab_size - len(specials)
            if UNK not in specials or room < 1:
                raise ValueError(
                    f"text has {len(counts)} distinct characters, more than "
                    f"vocab_size={vocab_size} allows with {len(specials)} special token(s); "
                    "raise vocab_size or pass unk=True to keep only the most frequent"
                )
            ranked = sorted(counts, key=lambda char: (-counts[char], char))
            counts = Counter({char: counts[char] for char in ranked[:room]})
        return cls(sorted(counts), specials=specials)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, one per character.

        Args:
            text: any string of known characters (or any string with ``<unk>``).

        Returns:
            ``list[int]`` of length ``len(text)``.

        Raises:
            ValueError: an unknown character (named, with its index) and no ``<unk>``;
                a lone surrogate.
        """
        _check_text(text)
        if self._has_masks(text):
            return self._encode_around_masks(text)
        char_to_id = self._char_to_id
        try:
            return [char_to_id[char] for char in text]
        except KeyError:
            pass
        if self.unk_id is not None:
            unk_id = self.unk_id
            return [char_to_id.get(char, unk_id) for char in text]
        index = next(i for i, char in enumerate(text) if char not in char_to_id)
        raise ValueError(
            f"unknown character {_describe(text[index])} at index {index}: it is not in "
            f"the char vocabulary ({len(self.chars)} characters); train on text that "
            "contains it, or train with unk=True"
        )

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        """Text of the token ids.

        Args:
            ids: token ids (a list, a 1-D tensor or array).
            skip_special: leave out special tokens (``<pad>``, ``<bos>``, ...); when False
                they are written as their strings. ``unk_id`` always decodes to ``�``.

        Returns:
            The text, one character per non-special id.
        """
        table = self._decode_table if skip_special else self._decode_table_specials
        return "".join([table[i] for i in _check_ids(ids, self.vocab_size)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``from_dict`` inverts it)."""
        return {**_header(self.kind), "specials": list(self.specials), "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CharTokenizer:
        """Rebuild a tokenizer from ``to_dict()`` output."""
        _check_header(d, cls.kind)
        return cls(d["chars"], specials=d.get("specials", ()))


# ---------------------------------------------------------------- words
@functools.cache
def _word_pattern() -> re.Pattern[str]:
    """Words (with their combining marks), whitespace runs, or one other character."""
    marks: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):  # ~0.15 s, once per process
        if unicodedata.category(chr(code))[0] == "M":
            if marks and marks[-1][1] == code - 1:
                marks[-1] = (marks[-1][0], code)
            else:
                marks.append((code, code))
    mark_class = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in marks)
    return re.compile(rf"[\w{mark_class}]+|\s+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Cut text into the pieces ``WordTokenizer`` uses; ``"".join`` of them is ``text``.

    Args:
        text: any string.

    Returns:
        Words (letters, digits, ``_`` with any combining marks), whitespace runs, and
        single other characters (punctuation, symbols, emoji code points), in order.

    Examples:
        >>> split_words("Hi,  you!\\n")
        ['Hi', ',', '  ', 'you', '!', '\\n']
    """
    return _word_pattern().findall(text)


class WordTokenizer(_TokenizerBase):
    """One token per word, punctuation mark or whitespace run (see ``split_words``).

    Ids ``0..`` are the special tokens (``"<unk>"`` is always among them, appended if not
    given), then the words in the order given (``train``: most frequent first). Any text
    can be encoded; a piece outside the vocabulary becomes ``unk_id``, which decodes to
    the string ``"<unk>"``, so ``decode(encode(s)) == s`` holds exactly when every piece
    of ``s`` is known.

    Args:
        words: the vocabulary's pieces, distinct.
        specials: special tokens placed first.

    Examples:
        >>> tok = WordTokenizer.train("to be or not to be")
        >>> tok.decode(tok.encode("not to be"))
        'not to be'
        >>> tok.decode(tok.encode("to see"))
        'to <unk>'
    """

    kind: ClassVar[str] = "word"

    def __init__(self, words: Sequence[str], *, specials: Sequence[str] = ()) -> None:
        self.specials = _with_unk(specials, True)
        self.words = tuple(words)
        for word in self.words:
            if not isinstance(word, str) or not word:
                raise ValueError(f"each word must be a non-empty string, got {word!r}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("the words of a word vocabulary must be distinct")
        offset = len(self.specials)
        self.vocab_size = offset + len(self.words)
        self._set_special_ids({token: i for i, token in enumerate(self.specials)})
        self._word_to_id = {word: offset + i for i, word in enumerate(self.words)}
        shown = [UNK if token == UNK else "" for token in self.specials]
        self._decode_table = [*shown, *self.words]
        self._decode_table_specials = [*self.specials, *self.words]

    @classmethod
    def train(
        cls,
        text: str,
        *,
        vocab_size: int = 8000,
        specials: Sequence[str] = (),
        unk: bool = True,
    ) -> WordTokenizer:
        """Keep the most frequent pieces of ``text``.

        Args:
            text: training text.
            vocab_size: size of the vocabulary, specials and ``<unk>`` included; ties in
                frequency are broken by the pieces' order as strings.
            specials: special tokens placed first.
            unk: ignored; ``<unk>`` is always present.

        Returns:
            The tokenizer; words ordered from most to least frequent.
        """
        _check_text(text)
        if not text:
            raise ValueError("cannot train a tokenizer on empty text")
        specials = _with_unk(specials, True)
        room = vocab_size - len(specials)
        if room < 1:
            raise ValueError(
                f"vocab_size={vocab_size} leaves no room for words after "
                f"{len(specials)} special token(s)"
            )
        counts = Counter(split_words(text))
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        return cls(ranked[:room], specials=specials)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; unknown pieces become ``unk_id``.

        Args:
            text: any string.

        Returns:
            ``list[int]``, one id per piece of ``split_words(text)``.
        """
        _check_text(text)
        if self._has_masks(text):
            return self._encode_around_masks(text)
        get, unk_id = self._word_to_id.get, self.unk_id
        return [get(word, unk_id) for word in split_words(text)]

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        """Text of the token ids.

        Args:
            ids: token ids (a list, a 1-D tensor or array).
            skip_special: leave out special tokens other than ``<unk>``; ``unk_id``
                always decodes to ``"<unk>"``.

        Returns:
            The pieces joined with nothing in between (whitespace is a token).
        """
        table = self._decode_table if skip_special else self._decode_table_specials
        return "".join([table[i] for i in _check_ids(ids, self.vocab_size)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``from_dict`` inverts it)."""
        return {**_header(self.kind), "specials": list(self.specials), "words": list(self.words)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WordTokenizer:
        """Rebuild a tokenizer from ``to_dict()`` output."""
        _check_header(d, cls.kind)
        return cls(d["words"], specials=d.get("specials", ()))


# ---------------------------------------------------------------- byte-level BPE
class BPETokenizer(_TokenizerBase):
    """Byte-level BPE (GPT-2 style), trained and run by Hugging Face ``tokenizers``.

    The text is split GPT-2 style (``ByteLevel`` pre-tokenizer, no prefix space) and every
    byte is in the alphabet, so any text encodes and decodes back exactly. Special tokens
    take ids ``0..``; a literal ``"<pad>"`` in the text is encoded as ordinary text. A
    literal ``"[MASK]"`` is ``mask_id`` when ``"[MASK]"`` is a special, and takes one space
    before it with it (``"the [MASK] of"`` is ``the``, ``[MASK]``, `` of``: in training the
    hidden token was a word with its space, `` house``).

    Args:
        tokenizer: a trained ``tokenizers.Tokenizer`` (use ``train`` or ``from_dict``).

    Examples:
        >>> tok = BPETokenizer.train("the cat sat on the mat " * 20, vocab_size=270)
        >>> tok.decode(tok.encode("the rat")) == "the rat"
        True
    """

    kind: ClassVar[str] = "bpe"
    _mask_takes_space: ClassVar[bool] = True

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        tokenizer.encode_special_tokens = True  # "<pad>" in text is text, not the special
        added = tokenizer.get_added_tokens_decoder()
        self.specials = tuple(added[i].content for i in sorted(added) if added[i].special)
        self.vocab_size = tokenizer.get_vocab_size()
        self._set_special_ids({token: tokenizer.token_to_id(token) for token in self.specials})

    @classmethod
    def train(
        cls,
        text: str,
        *,
        vocab_size: int = 8000,
        specials: Sequence[str] = (),
        unk: bool = False,
    ) -> BPETokenizer:
        """Learn BPE merges on ``text`` (deterministic for the same text and settings).

        Args:
            text: training text.
            vocab_size: target vocabulary size, the 256 byte symbols and the specials
                included (fewer if the text runs out of merges).
            specials: special tokens placed first.
            unk: ignored: byte-level BPE has no unknown input.

        Returns:
            The tokenizer.
        """
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        _check_text(text)
        if not text:
            raise ValueError("cannot train a tokenizer on empty text")
        specials = _check_specials(specials)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        if vocab_size < len(alphabet) + len(specials):
            raise ValueError(
                f"vocab_size={vocab_size} is too small for byte-level BPE: it needs at "
                f"least {len(alphabet)} byte symbols + {len(specials)} special token(s)"
            )
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=alphabet,
            special_tokens=list(specials),
            show_progress=False,
        )
        tokenizer.train_from_iterator([text], trainer=trainer)
        return cls(tokenizer)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``.

        Args:
            text: any string (valid Unicode).

        Returns:
            ``list[int]``; about one id per 2–4 characters of English with a few thousand
            merges.
        """
        _check_text(text)
        if self._has_masks(text):
            return self._encode_around_masks(text)
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        """Text of the token ids.

        Args:
            ids: token ids (a list, a 1-D tensor or array).
            skip_special: leave out special tokens; when False they are written as their
                strings.

        Returns:
            The text. Ids that cut a multi-byte character in half (possible when decoding
            an arbitrary slice) give U+FFFD ``�`` for the broken bytes.
        """
        ids = _check_ids(ids, self.vocab_size)
        return self._tokenizer.decode(ids, skip_special_tokens=skip_special)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: the Hugging Face tokenizer's own JSON as a string."""
        return {**_header(self.kind), "tokenizer": self._tokenizer.to_str()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BPETokenizer:
        """Rebuild a tokenizer from ``to_dict()`` output."""
        from tokenizers import Tokenizer

        _check_header(d, cls.kind)
        if not isinstance(d.get("tokenizer"), str):
            raise ValueError("a bpe tokenizer needs a 'tokenizer' string (Hugging Face JSON)")
        try:
            tokenizer = Tokenizer.from_str(d["tokenizer"])
        except Exception as error:  # tokenizers raises plain Exception
            raise ValueError(f"the Hugging Face tokenizer JSON is invalid: {error}") from None
        return cls(tokenizer)


# ---------------------------------------------------------------- entry points
AnyTokenizer = CharTokenizer | WordTokenizer | BPETokenizer
_CLASSES: dict[str, type[CharTokenizer] | type[WordTokenizer] | type[BPETokenizer]] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
}


def train_tokenizer(
    kind: str,
    text: str,
    *,
    vocab_size: int = 8000,
    specials: Sequence[str] = (),
    unk: bool = False,
) -> AnyTokenizer:
    """Train a tokenizer of the given kind on ``text``.

    Args:
        kind: one of ``TOKENIZERS``: ``"char"``, ``"word"`` or ``"bpe"``.
        text: training text.
        vocab_size: largest vocabulary, specials included. ``char``: a bound (an error if
            the text has more distinct characters, unless ``unk``); ``word``: the most
            frequent pieces are kept; ``bpe``: the merge target (≥ 256 + specials).
        specials: special tokens at ids ``0..`` (e.g. ``("<pad>", "<bos>", "<eos>")``).
        unk: ``char`` only: add ``<unk>`` for unknown characters (``word`` always has
            it; ``bpe`` never needs it).

    Returns:
        A ``CharTokenizer``, ``WordTokenizer`` or ``BPETokenizer``.

    Examples:
        >>> tok = train_tokenizer("char", "abcab")
        >>> tok.kind, tok.vocab_size, tok.encode("cab")
        ('char', 3, [2, 0, 1])
    """
    if kind not in _CLASSES:
        raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of: {', '.join(TOKENIZERS)}")
    return _CLASSES[kind].train(text, vocab_size=vocab_size, specials=specials, unk=unk)


def tokenizer_from_dict(d: Mapping[str, Any]) -> AnyTokenizer:
    """Rebuild any tokenizer from its ``to_dict()`` output (e.g. stored in a checkpoint).

    Args:
        d: the dictionary; its ``"kind"`` picks the class.

    Returns:
        The tokenizer.

    Raises:
        ValueError: not a tokenizer description, an unknown kind, or invalid content.
    """
    if not isinstance(d, Mapping):
        raise ValueError(f"a tokenizer description is a JSON object, got {type(d).__name__}")
    if d.get("format", FORMAT) != FORMAT:
        raise ValueError(f"not an attnkit tokenizer (format={d.get('format')!r})")
    kind = d.get("kind")
    if kind == "hf":  # imported with a model; its module builds on this one, so it comes late
        from attnkit.data.hf_tokenizer import HFTokenizer

        classes = {**_CLASSES, kind: HFTokenizer}
    else:
        classes = _CLASSES
    if kind not in classes:
        raise ValueError(
            f"unknown tokenizer kind {kind!r}; expected one of: {', '.join(TOKENIZERS)}, hf"
        )
    try:
        return classes[kind].from_dict(d)
    except (KeyError, TypeError, ValueError) as error:
        detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(f"invalid {kind} tokenizer: {detail}") from None


def load_tokenizer(path: str | os.PathLike[str]) -> AnyTokenizer:
    """Load a tokenizer written by ``save``.

    Args:
        path: the JSON file.

    Returns:
        A ``CharTokenizer``, ``WordTokenizer`` or ``BPETokenizer``, as its ``"kind"`` says.

    Raises:
        FileNotFoundError / OSError: the file is missing or unreadable (message names it).
        ValueError: not UTF-8, not JSON, not a tokenizer, unknown kind or invalid content;
            the message starts with the file name.
    """
    text = read_text_file(path)
    try:
        d = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    try:
        return tokenizer_from_dict(d)
    except ValueError as error:
        raise ValueError(f"{Path(path)}: {error}") from None
