"""Data: corpora, tokenizers and batching."""

from attnkit.data.batching import LMBatches
from attnkit.data.corpora import CORPORA, load_corpus, split_text
from attnkit.data.phrases import PhrasePair, Vocabulary, make_phrase_pairs
from attnkit.data.text import read_text_file
from attnkit.data.tokenizers import (
    TOKENIZERS,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
    train_tokenizer,
)

__all__ = [
    "CORPORA",
    "TOKENIZERS",
    "BPETokenizer",
    "CharTokenizer",
    "LMBatches",
    "PhrasePair",
    "Vocabulary",
    "WordTokenizer",
    "load_corpus",
    "load_tokenizer",
    "make_phrase_pairs",
    "read_text_file",
    "split_text",
    "train_tokenizer",
]
