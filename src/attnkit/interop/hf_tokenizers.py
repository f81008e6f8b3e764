"""attnkit's tokenizers written as Hugging Face tokenizer files.

``transformers``' ``AutoTokenizer`` reads a ``tokenizer.json`` (the ``tokenizers``
library's own format) through ``PreTrainedTokenizerFast`` when ``tokenizer_config.json``
names that class. Each attnkit kind has an exact counterpart there:

* ``char`` — a word-level model over the characters, a pre-tokenizer that isolates every
  character, and a decoder that joins them with nothing in between;
* ``word`` — a word-level model over the vocabulary, the same cut into words, whitespace
  runs and single symbols as :func:`attnkit.data.tokenizers.split_words`, joined back
  with nothing in between;
* ``bpe`` — attnkit's byte-level BPE *is* a ``tokenizers`` tokenizer: its JSON as it is;
* ``hf`` (imported) — the imported JSON as it is.

The special tokens keep their ids and are marked special. One difference stays:
``transformers`` recognises a special token written in the text (``"<pad>"``), which
attnkit's own tokenizers encode as text (only ``"[MASK]"`` is recognised by both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attnkit.data.hf_tokenizer import HFTokenizer
from attnkit.data.tokenizers import BPETokenizer, CharTokenizer, WordTokenizer
from attnkit.protocols import Tokenizer

__all__ = ["WORD_PATTERN", "hf_tokenizer_of", "write_tokenizer_files"]

# split_words' cut, in the Oniguruma syntax of the tokenizers library: words with their
# combining marks, whitespace runs, or one other character.
WORD_PATTERN = r"[\w\p{M}]+|\s+|[^\w\s]"
# transformers' names of the special-token roles, and attnkit's ids for them.
_ROLE_IDS = (
    ("pad_token", "pad_id"),
    ("unk_token", "unk_id"),
    ("mask_token", "mask_id"),
    ("bos_token", "bos_id"),
    ("eos_token", "eos_id"),
    ("cls_token", "cls_id"),
    ("sep_token", "sep_id"),
)


def _word_level(vocab: list[str], specials: tuple[str, ...], unk: str | None, pattern: str) -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    table = {token: index for index, token in enumerate(vocab)}
    tokenizer = Tokenizer(models.WordLevel(table, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def hf_tokenizer_of(tokenizer: Tokenizer) -> Any:
    """The ``tokenizers.Tokenizer`` that encodes text as ``tokenizer`` does.

    Raises:
        ValueError: a tokenizer kind with no counterpart (named).
    """
    from tokenizers import Tokenizer as HFBackend

    if isinstance(tokenizer, HFTokenizer):
        return HFBackend.from_str(tokenizer.backend.to_str())
    if isinstance(tokenizer, BPETokenizer):
        backend = HFBackend.from_str(tokenizer.to_dict()["tokenizer"])
        if tokenizer.mask_id is not None:
            # attnkit's BPE gives the space before "[MASK]" to the hidden word (" house"
            # is one token); the added token's lstrip does the same in transformers.
            from tokenizers import AddedToken

            mask = backend.id_to_token(tokenizer.mask_id)
            backend.add_special_tokens([AddedToken(mask, special=True, lstrip=True)])
        return backend
    if isinstance(tokenizer, CharTokenizer):
        unk = "<unk>" if tokenizer.unk_id is not None else None
        # one character at a time: a class of every character ([\s\S]), each isolated
        vocab = [*tokenizer.specials, *tokenizer.chars]
        return _word_level(vocab, tokenizer.specials, unk, r"[\s\S]")
    if isinstance(tokenizer, WordTokenizer):
        vocab = [*tokenizer.specials, *tokenizer.words]
        return _word_level(vocab, tokenizer.specials, "<unk>", WORD_PATTERN)
    raise ValueError(f"a {tokenizer.kind!r} tokenizer has no Hugging Face counterpart")


def write_tokenizer_files(tokenizer: Tokenizer, directory: Path, *, max_len: int) -> list[str]:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``
    into ``directory`` so that ``AutoTokenizer.from_pretrained(directory)`` loads it, and
    return the file names.

    Args:
        tokenizer: an attnkit tokenizer (any kind).
        directory: an existing directory.
        max_len: the model's longest input (``model_max_length``).
    """
    backend = hf_tokenizer_of(tokenizer)
    backend.save(str(directory / "tokenizer.json"))
    roles = {}
    for role, attribute in _ROLE_IDS:
        token_id = getattr(tokenizer, attribute, None)
        if token_id is not None:
            roles[role] = backend.id_to_token(token_id)
    settings = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_len,
        "clean_up_tokenization_spaces": False,
        **roles,
    }
    for name, values in (("tokenizer_config.json", settings), ("special_tokens_map.json", roles)):
        text = json.dumps(values, ensure_ascii=False, indent=2) + "\n"
        (directory / name).write_text(text, encoding="utf-8")
    return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
