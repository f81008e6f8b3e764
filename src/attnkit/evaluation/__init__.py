"""Evaluation: metrics and evaluation loops."""

from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.evaluation.metrics import bits_per_char, perplexity

__all__ = ["bits_per_char", "evaluate_language_model", "perplexity"]
