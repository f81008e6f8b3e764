"""A tiny Spanish→English phrase corpus generated from a lexicon: "la casa roja" →
"the red house".

Spanish puts the adjective after the noun and English before it, so a translator must
learn to *reorder* — exactly what encoder–decoder attention shows. The corpus is small
enough to train on in seconds, and whole phrases are held out so the test measures
composition, not memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["PhrasePair", "Vocabulary", "make_phrase_pairs"]

# noun: (Spanish, gender, English)
_NOUNS = [
    ("casa", "f", "house"),
    ("perro", "m", "dog"),
    ("flor", "f", "flower"),
    ("gato", "m", "cat"),
    ("mesa", "f", "table"),
    ("libro", "m", "book"),
    ("puerta", "f", "door"),
    ("coche", "m", "car"),
    ("silla", "f", "chair"),
    ("pájaro", "m", "bird"),
]
# adjective: (masculine, feminine, English)
_ADJECTIVES = [
    ("rojo", "roja", "red"),
    ("negro", "negra", "black"),
    ("blanco", "blanca", "white"),
    ("pequeño", "pequeña", "small"),
    ("viejo", "vieja", "old"),
    ("nuevo", "nueva", "new"),
    ("bonito", "bonita", "pretty"),
    ("amarillo", "amarilla", "yellow"),
]


@dataclass(frozen=True)
class PhrasePair:
    """One aligned phrase, e.g. ``("la casa roja", "the red house")``."""

    source: str
    target: str


def make_phrase_pairs(*, seed: int = 0, test_fraction: float = 0.15):
    """All article–noun–adjective phrases, split into train and test.

    Returns:
        ``(train, test)`` lists of :class:`PhrasePair`; "la casa roja" is always in test.
    """
    pairs = []
    for noun, gender, noun_en in _NOUNS:
        for masc, fem, adj_en in _ADJECTIVES:
            article, adjective = ("la", fem) if gender == "f" else ("el", masc)
            pairs.append(PhrasePair(f"{article} {noun} {adjective}", f"the {adj_en} {noun_en}"))
    showcase = PhrasePair("la casa roja", "the red house")
    rest = [p for p in pairs if p != showcase]
    random.Random(seed).shuffle(rest)
    num_test = max(1, round(test_fraction * len(pairs))) - 1
    return rest[num_test:], [showcase, *rest[:num_test]]


class Vocabulary:
    """Word-level vocabulary with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2."""

    specials = ("<pad>", "<bos>", "<eos>")

    def __init__(self, sentences: list[str]):
        words = sorted({w for s in sentences for w in s.split()})
        self.itos = [*self.specials, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    pad_id, bos_id, eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, sentence: str) -> list[int]:
        """Word ids of ``sentence`` (no specials); unknown words raise a ``KeyError``."""
        return [self.stoi[w] for w in sentence.split()]

    def decode(self, ids: list[int]) -> str:
        """The words of ``ids``, stopping at ``<eos>`` and skipping specials."""
        words = []
        for i in ids:
            if i == self.eos_id:
                break
            if i >= len(self.specials):
                words.append(self.itos[i])
        return " ".join(words)
