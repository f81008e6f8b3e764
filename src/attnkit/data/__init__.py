"""Data: corpora, tokenizers and batching."""

from attnkit.data.phrases import PhrasePair, Vocabulary, make_phrase_pairs

__all__ = ["PhrasePair", "Vocabulary", "make_phrase_pairs"]
