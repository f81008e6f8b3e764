"""What the trainer trains on: a task turns a run's data config into batches, a loss
and an evaluation. The trainer's loop is the same for every task."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from attnkit.config import DataConfig
from attnkit.data.batching import LMBatches
from attnkit.data.corpora import load_corpus, split_text
from attnkit.data.text import read_text_file
from attnkit.data.tokenizers import train_tokenizer
from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.protocols import Tokenizer
from attnkit.training.losses import token_cross_entropy

__all__ = ["LanguageModelTask", "load_texts"]


def load_texts(data: DataConfig) -> tuple[str, str]:
    """The training and validation text of a data config.

    A user file (``data.train``) wins over the embedded corpus; without ``data.valid``
    the last ``val_fraction`` of the text is held out (contiguous, deterministic).
    """
    text = read_text_file(data.train) if data.train else load_corpus(data.corpus)
    if data.valid:
        return text, read_text_file(data.valid)
    return split_text(text, data.val_fraction)


class LanguageModelTask:
    """Next-token prediction on a text: the character- (or word-, or BPE-) level LM.

    Args:
        data: the data config.
        seed: seeds the batch sampler.
        tokenizer: reuse this tokenizer (resuming, evaluating) instead of training one.
    """

    def __init__(self, data: DataConfig, *, seed: int, tokenizer: Tokenizer | None = None):
        train_text, valid_text = load_texts(data)
        if tokenizer is None:
            # A character vocabulary is read off the whole text, so a character that
            # happens to occur only in the validation part is still known.
            source = train_text + valid_text if data.tokenizer == "char" else train_text
            tokenizer = train_tokenizer(
                data.tokenizer, source, vocab_size=data.vocab_size, unk=data.unk
            )
        self.tokenizer = tokenizer
        self.train = LMBatches(self._encode(train_text), data.block_size, seed=seed)
        self.valid = LMBatches(self._encode(valid_text), data.block_size, seed=seed + 1)
        self.valid_chars = len(valid_text)

    def _encode(self, text: str) -> Tensor:
        return torch.tensor(self.tokenizer.encode(text), dtype=torch.long)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index``."""
        inputs, targets = self.train.batch(index, batch_size, rank=rank, world_size=world_size)
        return [
            {"tokens": x, "targets": y}
            for x, y in zip(inputs.chunk(accumulate), targets.chunk(accumulate), strict=True)
        ]

    @staticmethod
    def loss(
        model: nn.Module, batch: dict[str, Tensor], *, label_smoothing: float
    ) -> tuple[Tensor, Tensor]:
        """Summed next-token loss of a micro-batch and its token count."""
        logits = model(batch["tokens"]).logits  # (B, T, V)
        return token_cross_entropy(logits, batch["targets"], label_smoothing=label_smoothing)

    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Validation loss, perplexity and bits per character."""
        return evaluate_language_model(
            model,
            self.valid,
            device=device,
            num_chars=self.valid_chars,
            batch_size=batch_size,
            max_batches=max_batches,
        )
