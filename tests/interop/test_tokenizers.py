"""Tokenizers across the border: an imported Hugging Face tokenizer (kind ``hf``) encodes
as transformers does and survives a run directory; attnkit's char, word and BPE
tokenizers, written as tokenizer.json, encode and decode in transformers as in attnkit."""

from __future__ import annotations

import json

import pytest

from attnkit.data.hf_tokenizer import HFTokenizer
from attnkit.data.tokenizers import load_tokenizer, split_words, train_tokenizer
from attnkit.interop.hf_tokenizers import write_tokenizer_files

from .conftest import VOCAB, bert_tokenizer

SAMPLES = [
    "ROMEO: But soft, what light through yonder window breaks?",
    "  two  spaces,\ttab and\nnewline -- and 'quotes'!",
    "Thou art more lovely and more temperate: 1609 (Sonnet 18).",
    "naïve café, Straße",
]


def test_an_imported_wordpiece_tokenizer_adds_cls_and_sep_and_knows_its_specials():
    tokenizer = bert_tokenizer()
    ids = tokenizer.encode("The lord said [MASK] Moses")
    assert [tokenizer.token(i) for i in ids] == [
        "[CLS]",
        "the",
        "lord",
        "said",
        "[MASK]",
        "moses",
        "[SEP]",
    ]
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.mask_id) == (0, 1, 4)
    assert (tokenizer.cls_id, tokenizer.sep_id, tokenizer.bos_id) == (2, 3, None)
    assert tokenizer.decode(ids) == "the lord said moses"
    assert tokenizer.decode(ids, skip_special=False) == "[CLS] the lord said [MASK] moses [SEP]"


def test_word_pieces_carry_their_word():
    tokenizer = HFTokenizer.from_vocab([*VOCAB, "say"])
    ids, words = tokenizer.encode_words("saying lords")
    assert [tokenizer.token(i) for i in ids] == ["[CLS]", "say", "##ing", "lord", "##s", "[SEP]"]
    assert words == [None, 0, 0, 1, 1, None]
    assert tokenizer.decode(ids) == "saying lords"


def test_an_imported_tokenizer_is_saved_and_loaded_with_a_run(tmp_path):
    tokenizer = bert_tokenizer()
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded == tokenizer and loaded.kind == "hf"
    assert loaded.encode("god saw the light") == tokenizer.encode("god saw the light")
    assert loaded.mask_id == tokenizer.mask_id


def test_a_model_directory_names_its_special_tokens(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join([*VOCAB, "<cls>"]) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": False, "mask_token": {"content": "[MASK]"}})
    )
    tokenizer = HFTokenizer.from_directory(tmp_path)
    assert tokenizer.mask_id == 4 and tokenizer.cls_id == 2
    ids = tokenizer.encode("The lord")  # cased: "The" is unknown
    assert tokenizer.decode(ids, skip_special=False) == "[CLS] [UNK] lord [SEP]"
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer\.json or vocab\.txt"):
        HFTokenizer.from_directory(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"the mask token '<mask>' is not in the vocabulary"):
        HFTokenizer(tokenizer.backend, roles={"mask": "<mask>"})


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_attnkit_tokenizers_encode_and_decode_alike_in_transformers(tmp_path, kind):
    from transformers import AutoTokenizer

    text = "\n".join(SAMPLES) * 3
    specials = ("<pad>", "<bos>", "<eos>", "[MASK]")
    tokenizer = train_tokenizer(kind, text, vocab_size=400, specials=specials)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    files = write_tokenizer_files(tokenizer, tmp_path, max_len=64)
    assert files == ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    assert theirs("the [MASK] of the lord")["input_ids"] == tokenizer.encode(
        "the [MASK] of the lord"
    )
    for sample in [*SAMPLES, "more [MASK] and more"]:  # known words: "<unk>" decodes alike
        ids = tokenizer.encode(sample)
        assert theirs(sample)["input_ids"] == ids, sample
        assert theirs.decode(ids, skip_special_tokens=True) == tokenizer.decode(ids)
        assert theirs.decode(ids) == tokenizer.decode(ids, skip_special=False)
    assert (theirs.pad_token, theirs.bos_token, theirs.eos_token, theirs.mask_token) == specials
    assert theirs.model_max_length == 64
    if kind == "word":  # the same cut into words as attnkit's, written for the tokenizers library
        backend = theirs.backend_tokenizer.pre_tokenizer
        for sample in SAMPLES:
            pieces = [piece for piece, _ in backend.pre_tokenize_str(sample)]
            assert pieces == split_words(sample)
