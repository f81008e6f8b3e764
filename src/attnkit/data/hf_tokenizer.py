"""A tokenizer imported from a Hugging Face model directory (kind ``"hf"``).

A pretrained model only makes sense with the tokenizer it was trained with, so an
imported run keeps that tokenizer as it is: the ``tokenizers``-library JSON of its
``tokenizer.json``, or, for a checkpoint that ships only a ``vocab.txt``, BERT's WordPiece
tokenizer built from it (lower-casing as its ``tokenizer_config.json`` says). It behaves
as ``transformers`` does when called on a text:

* ``encode(text)`` adds what the tokenizer's post-processor adds (BERT: ``[CLS] … [SEP]``),
  so the ids are the model's input as the model was trained;
* special tokens written in the text are recognised (``"the [MASK] of"`` holds the mask
  id) — unlike attnkit's own tokenizers, whose specials never come from text;
* nothing is truncated or padded (a too-long text is an error at the model, naming
  ``max_len``), whatever the JSON says.

``decode(encode(s))`` gives ``s`` after the tokenizer's normalisation (BERT's uncased
vocabularies lower-case and strip accents; an unknown word decodes to ``[UNK]``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from attnkit.data.tokenizers import _check_header, _check_ids, _check_text, _header, _TokenizerBase

__all__ = ["HF_KIND", "ROLES", "HFTokenizer"]

HF_KIND = "hf"
# The special tokens a model may give roles to, as transformers names them
# (``pad_token`` ...), and the strings used when a directory does not say.
ROLES = ("pad", "unk", "mask", "cls", "sep", "bos", "eos")
_USUAL = {
    "pad": ("[PAD]", "<pad>"),
    "unk": ("[UNK]", "<unk>"),
    "mask": ("[MASK]", "<mask>"),
    "cls": ("[CLS]",),
    "sep": ("[SEP]",),
    "bos": ("<bos>", "<s>"),
    "eos": ("<eos>", "</s>"),
}


class HFTokenizer(_TokenizerBase):
    """A Hugging Face ``tokenizers`` tokenizer with the special tokens' roles.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
        roles: role (``"pad"``, ``"mask"``, ``"cls"``, ...; see :data:`ROLES`) → token
            string; a role whose token is not in the vocabulary is an error.

    Attributes:
        pad_id, unk_id, mask_id, cls_id, sep_id, bos_id, eos_id: the roles' ids, or
            ``None``.

    Examples:
        >>> tok = HFTokenizer.from_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        ...                              "the", "lord", "of"])
        >>> tok.encode("The [MASK] of the lord")
        [2, 5, 4, 7, 5, 6, 3]
        >>> tok.decode(tok.encode("The [MASK] of the lord"))
        'the of the lord'
    """

    kind: ClassVar[str] = HF_KIND

    def __init__(self, tokenizer: Any, *, roles: Mapping[str, str] | None = None) -> None:
        # Truncation and padding stay with the caller: a truncated input would silently
        # differ from what the user passed, and padding is the batcher's job.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        added = tokenizer.get_added_tokens_decoder()
        self.specials = tuple(added[i].content for i in sorted(added) if added[i].special)
        self.vocab_size = tokenizer.get_vocab_size()
        self.roles: dict[str, str] = {}
        for role, token in (roles or {}).items():
            if role not in ROLES:
                raise ValueError(f"unknown special-token role {role!r}; choose from {ROLES}")
            if token is not None and tokenizer.token_to_id(token) is None:
                raise ValueError(f"the {role} token {token!r} is not in the vocabulary")
            if token is not None:
                self.roles[role] = token
        for role in ROLES:
            token = self.roles.get(role)
            setattr(self, f"{role}_id", None if token is None else tokenizer.token_to_id(token))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_vocab(
        cls, vocab: Sequence[str], *, lowercase: bool = True, roles: Mapping[str, str] | None = None
    ) -> HFTokenizer:
        """BERT's WordPiece tokenizer over a ``vocab.txt`` vocabulary (one token per id).

        Args:
            vocab: the tokens in id order (``##`` marks a word's continuation).
            lowercase: lower-case and strip accents first (BERT's uncased models).
            roles: special-token roles; default: those of BERT's tokens found in ``vocab``.
        """
        from tokenizers.implementations import BertWordPieceTokenizer

        table = {token: i for i, token in enumerate(vocab)}
        if len(table) != len(vocab):
            raise ValueError("the vocabulary lists a token twice")
        roles = dict(roles) if roles else _usual_roles(table)
        options = {f"{role}_token": roles[role] for role in ("unk", "sep", "cls", "pad", "mask")}
        missing = [name for name, token in options.items() if token not in table]
        if missing:
            raise ValueError(f"a WordPiece vocabulary needs its {missing[0]} in vocab.txt")
        wordpiece = BertWordPieceTokenizer(table, lowercase=lowercase, **options)
        return cls(wordpiece._tokenizer, roles=roles)

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str]) -> HFTokenizer:
        """The tokenizer of a Hugging Face model directory: ``tokenizer.json`` if there
        is one, else ``vocab.txt`` (WordPiece); the special tokens' roles from
        ``tokenizer_config.json`` / ``special_tokens_map.json`` when they name them.

        Raises:
            OSError: neither file exists (the message names the directory).
            ValueError: a file is not what it should be (the message names it).
        """
        from tokenizers import Tokenizer

        root = Path(directory)
        named = _named_roles(root)
        if (root / "tokenizer.json").is_file():
            path = root / "tokenizer.json"
            try:
                tokenizer = Tokenizer.from_file(str(path))
            except Exception as error:  # tokenizers raises plain Exception
                raise ValueError(f"{path} is not a tokenizers JSON file: {error}") from None
            vocab = tokenizer.get_vocab(with_added_tokens=True)
            return cls(tokenizer, roles={**_usual_roles(vocab), **named})
        if (root / "vocab.txt").is_file():
            vocab = (root / "vocab.txt").read_text(encoding="utf-8").splitlines()
            config = _read_json(root / "tokenizer_config.json")
            lowercase = bool(config.get("do_lower_case", True))
            table = {token: i for i, token in enumerate(vocab)}
            return cls.from_vocab(
                vocab, lowercase=lowercase, roles={**_usual_roles(table), **named}
            )
        raise FileNotFoundError(f"{root} has no tokenizer.json or vocab.txt")

    # ------------------------------------------------------------------ using
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, with the specials the tokenizer adds around a text.

        Args:
            text: any string (valid Unicode).

        Returns:
            ``list[int]``.
        """
        _check_text(text)
        return self._tokenizer.encode(text).ids

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        """Text of the token ids (the tokenizer's own decoder: WordPiece joins ``##``
        pieces to their word).

        Args:
            ids: token ids (a list, a 1-D tensor or array).
            skip_special: leave out special tokens; when False they are written out.
        """
        ids = _check_ids(ids, self.vocab_size)
        return self._tokenizer.decode(ids, skip_special_tokens=skip_special)

    def encode_words(self, text: str) -> tuple[list[int], list[int | None]]:
        """Token ids of ``text`` (as :meth:`encode`) and, for each, the index of the word
        it is a piece of (``None`` for added special tokens): ``"playing"`` may be
        ``play`` ``##ing``, both of word 0."""
        _check_text(text)
        encoding = self._tokenizer.encode(text)
        return encoding.ids, list(encoding.word_ids)

    def token(self, token_id: int) -> str:
        """The vocabulary entry of one id as the tokenizer writes it (``"##ing"``,
        ``"[CLS]"``): what a picture of the model's attention labels its axes with."""
        (token_id,) = _check_ids([token_id], self.vocab_size)
        return self._tokenizer.id_to_token(token_id)

    @property
    def backend(self) -> Any:
        """The wrapped ``tokenizers.Tokenizer`` (to write it out again)."""
        return self._tokenizer

    # ------------------------------------------------------------------ storing
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: the Hugging Face JSON as a string, and the roles."""
        return {**_header(self.kind), "tokenizer": self._tokenizer.to_str(), "roles": self.roles}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HFTokenizer:
        """Rebuild a tokenizer from ``to_dict()`` output."""
        from tokenizers import Tokenizer

        _check_header(d, cls.kind)
        if not isinstance(d.get("tokenizer"), str):
            raise ValueError("an hf tokenizer needs a 'tokenizer' string (Hugging Face JSON)")
        try:
            tokenizer = Tokenizer.from_str(d["tokenizer"])
        except Exception as error:  # tokenizers raises plain Exception
            raise ValueError(f"the Hugging Face tokenizer JSON is invalid: {error}") from None
        return cls(tokenizer, roles=d.get("roles") or {})


def _usual_roles(vocab: Mapping[str, int]) -> dict[str, str]:
    """Roles of the usual special-token strings that ``vocab`` holds."""
    roles = {}
    for role, candidates in _USUAL.items():
        found = next((token for token in candidates if token in vocab), None)
        if found is not None:
            roles[role] = found
    return roles


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} is not a JSON object")
    return values


def _named_roles(root: Path) -> dict[str, str]:
    """The special tokens a model directory names (``"mask_token": "[MASK]"``), from
    ``special_tokens_map.json`` and then ``tokenizer_config.json`` (which wins)."""
    roles: dict[str, str] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        values = _read_json(root / name)
        for role in ROLES:
            token = values.get(f"{role}_token")
            if isinstance(token, dict):  # an AddedToken written out: {"content": ...}
                token = token.get("content")
            if isinstance(token, str):
                roles[role] = token
    return roles
