"""Data: corpora, tokenizers and batching."""

from attnkit.data.batching import LMBatches, TokenBatches
from attnkit.data.bible import BIBLE_CORPORA, ParallelSplits, load_bible_text, load_parallel_corpus
from attnkit.data.corpora import CORPORA, load_corpus, split_text
from attnkit.data.masking import TokenTable, mask_tokens
from attnkit.data.parallel import read_parallel_file, read_parallel_files
from attnkit.data.phrases import PhrasePair, Vocabulary, make_phrase_pairs
from attnkit.data.synthetic import make_reverse_pairs
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
    "BIBLE_CORPORA",
    "CORPORA",
    "TOKENIZERS",
    "BPETokenizer",
    "CharTokenizer",
    "LMBatches",
    "ParallelSplits",
    "PhrasePair",
    "TokenBatches",
    "TokenTable",
    "Vocabulary",
    "WordTokenizer",
    "load_bible_text",
    "load_corpus",
    "load_parallel_corpus",
    "load_tokenizer",
    "make_phrase_pairs",
    "make_reverse_pairs",
    "mask_tokens",
    "read_parallel_file",
    "read_parallel_files",
    "read_text_file",
    "split_text",
    "train_tokenizer",
]
