"""What the trainer trains on: a task turns a run's data config into batches, a loss
and an evaluation. The trainer's loop is the same for every task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from attnkit.config import BIBLE_TEXT_CORPORA, TRANSLATION_KINDS, DataConfig, RunConfig
from attnkit.data.batching import LMBatches, TokenBatches, padded_blocks
from attnkit.data.bible import load_bible_text, load_parallel_corpus
from attnkit.data.corpora import load_corpus, split_text
from attnkit.data.masking import TokenTable, mask_tokens
from attnkit.data.parallel import read_parallel_file, read_parallel_files
from attnkit.data.synthetic import make_reverse_pairs
from attnkit.data.text import read_text_file
from attnkit.data.tokenizers import MASK, load_tokenizer, train_tokenizer
from attnkit.evaluation.language_model import evaluate_language_model
from attnkit.evaluation.masked_lm import evaluate_masked_lm, mask_held_out, unigram_counts
from attnkit.evaluation.metrics import perplexity
from attnkit.protocols import Tokenizer
from attnkit.training.image_tasks import CaptioningTask, ImageClassificationTask
from attnkit.training.losses import IGNORE_INDEX, batch_loss

__all__ = [
    "TASKS",
    "LanguageModelTask",
    "MaskedLanguageModelTask",
    "Task",
    "TranslationTask",
    "TranslationTokenizers",
    "build_task",
    "load_pairs",
    "load_text_splits",
    "load_texts",
]

Pairs = list[tuple[str, str]]


class Task(Protocol):
    """What the trainer drives, the same for every family: :class:`LanguageModelTask`,
    :class:`MaskedLanguageModelTask`, :class:`TranslationTask` and the image tasks
    (:class:`~attnkit.training.image_tasks.ImageClassificationTask`,
    :class:`~attnkit.training.image_tasks.CaptioningTask`).

    A task may also have ``stats`` (a dict about its data, shown when training starts).
    """

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """The model config's fields set from the data (vocabulary sizes, classes)."""
        ...

    def save_tokenizers(self, run_dir: Path) -> None:
        """Write what reads the model's inputs and outputs into the run directory."""
        ...

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's ``accumulate`` micro-batches of update ``index``: the model's
        keyword inputs and ``labels`` (a pure function of ``index``, so resuming needs
        only the index)."""
        ...

    def loss(
        self, model: nn.Module, batch: dict[str, Tensor], *, label_smoothing: float
    ) -> tuple[Tensor, Tensor]:
        """Summed loss of a micro-batch and its count of real labels."""
        ...

    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Validation metrics, ``loss`` among them."""
        ...


def load_text_splits(data: DataConfig, kind: str = "decoder_lm") -> dict[str, str]:
    """The ``train`` and ``valid`` text of a data config, and ``test`` when it has one.

    A user file (``data.train``) wins over the embedded corpus (``kind`` picks the
    default corpus). ``data.valid`` and ``data.test`` name held-out files; without
    ``data.valid``, ``bible-en`` holds out its validation books, and any other text its
    last ``val_fraction`` (contiguous, deterministic). Only ``bible-en`` (its test books)
    and ``data.test`` give a test text.
    """
    corpus = data.corpus_for(kind)
    if data.train:
        splits = {"train": read_text_file(data.train)}
    elif corpus in BIBLE_TEXT_CORPORA:
        splits = load_bible_text(corpus)
    else:
        splits = {"train": load_corpus(corpus)}
    if data.valid:
        splits["valid"] = read_text_file(data.valid)
    elif "valid" not in splits:
        splits["train"], splits["valid"] = split_text(splits["train"], data.val_fraction)
    if data.test:
        splits["test"] = read_text_file(data.test)
    return splits


def load_texts(data: DataConfig, kind: str = "decoder_lm") -> tuple[str, str]:
    """The training and validation text of a data config (see :func:`load_text_splits`)."""
    splits = load_text_splits(data, kind)
    return splits["train"], splits["valid"]


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
    def vocab_sizes(self) -> dict[str, int]:
        """The model config's vocabulary fields, set from the tokenizer."""
        return {"vocab_size": self.tokenizer.vocab_size}

    def save_tokenizers(self, run_dir: Path) -> None:
        self.tokenizer.save(run_dir / "tokenizer.json")

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index``."""
        inputs, targets = self.train.batch(index, batch_size, rank=rank, world_size=world_size)
        return [
            {"tokens": x, "labels": y}
            for x, y in zip(inputs.chunk(accumulate), targets.chunk(accumulate), strict=True)
        ]

    loss = staticmethod(batch_loss)

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


MLM_SPECIALS = ("<pad>", MASK)  # ids 0 and 1 in every masked-language-model vocabulary


class MaskedLanguageModelTask:
    """Missing-word recovery on a text: BERT's masked-language-model objective.

    Training rows are random contiguous ``data.block_size``-token windows of the training
    text (as for the language model). In each update's rows ``data.mask_prob`` of the
    tokens (of the words, with ``data.whole_word_mask``) are hidden — 80 % as
    ``[MASK]``, 10 % as a random token, 10 % unchanged — and only those positions carry a
    label (:func:`~attnkit.data.masking.mask_tokens`). The masks of update ``index`` are a
    pure function of ``(seed, index)``, drawn over the whole batch before each process
    takes its rows, so resuming and data-parallel training see the very same masks.

    Validation: the held-out text in consecutive blocks, masked once with a fixed seed
    (:func:`~attnkit.evaluation.masked_lm.mask_held_out`).

    Args:
        data: the data config.
        seed: seeds the blocks and the masks.
        tokenizer: reuse this tokenizer (resuming, evaluating) instead of training one;
            it must know ``[MASK]``.
    """

    def __init__(self, data: DataConfig, *, seed: int, tokenizer: Tokenizer | None = None):
        self.texts = load_text_splits(data, "encoder")
        if tokenizer is None:
            source = self.texts["train"]
            if data.tokenizer == "char":  # as for the language model: see every character
                source += self.texts["valid"]
            tokenizer = train_tokenizer(
                data.tokenizer,
                source,
                vocab_size=data.vocab_size,
                specials=MLM_SPECIALS,
                unk=data.unk,
            )
        if getattr(tokenizer, "mask_id", None) is None or tokenizer.pad_id is None:
            raise ValueError(
                f"a masked-language model needs a tokenizer with <pad> and {MASK} among its "
                f"special tokens; this {tokenizer.kind} tokenizer has {MASK} id "
                f"{getattr(tokenizer, 'mask_id', None)} and <pad> id {tokenizer.pad_id}"
            )
        self.tokenizer = tokenizer
        self.data, self.seed = data, seed
        self.table = TokenTable.of(tokenizer)
        self.train_tokens = self._encode(self.texts["train"])
        self.train = LMBatches(self.train_tokens, data.block_size, seed=seed)
        self.valid_inputs, self.valid_labels = self.held_out(self.texts["valid"])
        self.stats = {
            "train tokens": len(self.train_tokens),
            "validation masked tokens": int((self.valid_labels != IGNORE_INDEX).sum()),
        }

    def _encode(self, text: str) -> Tensor:
        return torch.tensor(self.tokenizer.encode(text), dtype=torch.long)

    def held_out(self, text: str) -> tuple[Tensor, Tensor]:
        """``text`` in consecutive blocks with the evaluation's masks (fixed seed).

        Shape:
            → inputs ``(N, T)``, labels ``(N, T)`` (``-100`` where not hidden).
        """
        tokens, pad_id = self._encode(text), self.tokenizer.pad_id
        blocks = padded_blocks(tokens, self.data.block_size, pad_id=pad_id)
        return mask_held_out(
            blocks,
            mask_id=self.tokenizer.mask_id,
            vocab_size=self.tokenizer.vocab_size,
            table=self.table,
            mask_prob=self.data.mask_prob,
            whole_word=self.data.whole_word_mask,
        )

    def unigram_counts(self) -> Tensor:
        """How often each maskable token occurs in the training text.

        Shape:
            ``(V,)``.
        """
        vocab_size = self.tokenizer.vocab_size
        return unigram_counts(self.train_tokens, vocab_size=vocab_size, table=self.table)

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """The model config's vocabulary fields, set from the tokenizer: its size and
        the ids of ``<pad>`` and ``[MASK]``."""
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "pad_id": self.tokenizer.pad_id,
            "mask_id": self.tokenizer.mask_id,
        }

    def save_tokenizers(self, run_dir: Path) -> None:
        self.tokenizer.save(run_dir / "tokenizer.json")

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index``: masked blocks (``tokens``)
        and the hidden tokens (``labels``, ``-100`` elsewhere)."""
        if batch_size % world_size:
            raise ValueError(
                f"batch_size={batch_size} is not divisible by the {world_size} processes"
            )
        blocks, _ = self.train.batch(index, batch_size)  # the whole update's rows (B, T)
        # Another stream than the blocks' (seed * 1_000_003 + index), as a pure function
        # of the update: the masks of a resumed run are those of an uninterrupted one.
        generator = torch.Generator().manual_seed((self.seed + 1) * 1_000_033 + index)
        inputs, labels = mask_tokens(
            blocks,
            mask_id=self.tokenizer.mask_id,
            vocab_size=self.tokenizer.vocab_size,
            mask_prob=self.data.mask_prob,
            special_ids=self.table.unmaskable,
            word_starts=self.table.word_starts(blocks) if self.data.whole_word_mask else None,
            generator=generator,
        )
        rows = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        return [
            {"tokens": x, "labels": y}
            for x, y in zip(
                inputs[rows].chunk(accumulate), labels[rows].chunk(accumulate), strict=True
            )
        ]

    loss = staticmethod(batch_loss)

    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Loss and perplexity over the hidden validation tokens, top-1 / top-5 accuracy."""
        return evaluate_masked_lm(
            model,
            self.valid_inputs,
            self.valid_labels,
            device=device,
            batch_size=batch_size,
            max_batches=max_batches,
        )


SPECIALS = ("<pad>", "<bos>", "<eos>")  # ids 0, 1, 2 in every translation vocabulary


@dataclass
class TranslationTokenizers:
    """The source and target tokenizers of a translation run (one object when joint)."""

    source: Tokenizer
    target: Tokenizer

    @property
    def joint(self) -> bool:
        return self.source is self.target

    def save(self, run_dir: Path) -> None:
        self.target.save(run_dir / "tokenizer.json")
        if not self.joint:
            self.source.save(run_dir / "source_tokenizer.json")

    @classmethod
    def load(cls, run_dir: Path) -> TranslationTokenizers:
        target = load_tokenizer(run_dir / "tokenizer.json")
        source_path = run_dir / "source_tokenizer.json"
        return cls(load_tokenizer(source_path) if source_path.is_file() else target, target)


def load_pairs(data: DataConfig) -> tuple[Pairs, Pairs, Pairs, dict[str, int]]:
    """Train, validation and test pairs of a translation data config, and the counts
    of pairs dropped while reading (empty side, too long, malformed)."""

    def read(source: str, target: str | None) -> tuple[Pairs, dict[str, int]]:
        if target:
            return read_parallel_files(source, target, max_chars=data.max_chars)
        return read_parallel_file(source, max_chars=data.max_chars)

    if not data.train:
        corpus = data.corpus_for("seq2seq")
        if corpus == "reverse":  # synthetic: 20k training pairs, 500 each held out
            pairs = make_reverse_pairs(21_000, seed=0)
            return pairs[:20_000], pairs[20_000:20_500], pairs[20_500:], {"kept": 21_000}
        splits = load_parallel_corpus(corpus)
        return splits.train, splits.valid, splits.test, dict(splits.stats)
    train, stats = read(data.train, data.train_target)
    if data.valid:
        valid, _ = read(data.valid, data.valid_target)
    else:
        cut = max(1, round(len(train) * data.val_fraction))
        train, valid = train[:-cut], train[-cut:]
    test = read(data.test, data.test_target)[0] if data.test else []
    return train, valid, test, stats


class TranslationTask:
    """Sequence-to-sequence training on sentence pairs with teacher forcing.

    Pairs become ``src`` (source + EOS), ``tgt`` (BOS + target) and ``labels``
    (target + EOS); pairs longer than ``data.block_size`` tokens on either side are
    dropped and counted. Batches hold about ``train.batch_tokens`` tokens of pairs of
    similar length.
    """

    def __init__(
        self,
        data: DataConfig,
        *,
        seed: int,
        batch_tokens: int,
        tokenizers: TranslationTokenizers | None = None,
    ):
        train, valid, test, self.stats = load_pairs(data)
        if tokenizers is None:
            tokenizers = self._train_tokenizers(data, train)
        self.tokenizers = tokenizers
        self.block_size = data.block_size
        self.train_pairs, dropped = self._encode(train)
        self.stats["too_many_tokens"] = dropped
        self.valid_pairs, _ = self._encode(valid)
        self.valid_text, self.test_text = valid, test
        if not self.train_pairs:
            raise ValueError(
                f"no training pairs left after filtering ({self.stats}); raise "
                f"data.block_size or data.max_chars"
            )
        lengths = [(len(s), len(t)) for s, t in self.train_pairs]
        self.batches = TokenBatches(lengths, batch_tokens, seed=seed)

    @staticmethod
    def _train_tokenizers(data: DataConfig, train: Pairs) -> TranslationTokenizers:
        def fit(text: str):
            return train_tokenizer(
                data.tokenizer, text, vocab_size=data.vocab_size, specials=SPECIALS, unk=data.unk
            )

        sources = "\n".join(s for s, _ in train)
        targets = "\n".join(t for _, t in train)
        if data.joint_vocab:
            joint = fit(sources + "\n" + targets)
            return TranslationTokenizers(joint, joint)
        return TranslationTokenizers(fit(sources), fit(targets))

    def _encode(self, pairs: Pairs) -> tuple[list[tuple[list[int], list[int]]], int]:
        encoded, dropped = [], 0
        source_tok, target_tok = self.tokenizers.source, self.tokenizers.target
        for source, target in pairs:
            src, tgt = source_tok.encode(source), target_tok.encode(target)
            if len(src) + 1 > self.block_size or len(tgt) + 1 > self.block_size:
                dropped += 1
                continue
            encoded.append((src, tgt))
        return encoded, dropped

    def save_tokenizers(self, run_dir: Path) -> None:
        self.tokenizers.save(run_dir)

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """The model config's vocabulary fields, set from the tokenizers."""
        return {
            "src_vocab_size": self.tokenizers.source.vocab_size,
            "tgt_vocab_size": self.tokenizers.target.vocab_size,
        }

    def collate(self, pairs: list[tuple[list[int], list[int]]]) -> dict[str, Tensor]:
        """Pad a list of encoded pairs into ``src``, ``tgt`` and ``labels``, with the
        tokenizers' own padding, BOS and EOS ids.

        Shape:
            src ``(B, S)`` (source + EOS), tgt ``(B, T)`` (BOS + target), labels
            ``(B, T)`` (target + EOS, ``-100`` at padding).
        """
        source, target = self.tokenizers.source, self.tokenizers.target
        width_src = max(len(s) for s, _ in pairs) + 1
        width_tgt = max(len(t) for _, t in pairs) + 1
        src = torch.full((len(pairs), width_src), source.pad_id, dtype=torch.long)
        tgt_in = torch.full((len(pairs), width_tgt), target.pad_id, dtype=torch.long)
        labels = torch.full((len(pairs), width_tgt), IGNORE_INDEX, dtype=torch.long)
        for row, (s, t) in enumerate(pairs):
            src[row, : len(s) + 1] = torch.tensor([*s, source.eos_id])
            tgt_in[row, : len(t) + 1] = torch.tensor([target.bos_id, *t])
            labels[row, : len(t) + 1] = torch.tensor([*t, target.eos_id])
        return {"src": src, "tgt": tgt_in, "labels": labels}

    def micro_batches(
        self, index: int, *, batch_size: int, accumulate: int, rank: int, world_size: int
    ) -> list[dict[str, Tensor]]:
        """This process's micro-batches of update ``index`` (``batch_size`` is unused:
        batches are sized by tokens)."""
        rows = [
            self.train_pairs[i] for i in self.batches.batch(index, rank=rank, world_size=world_size)
        ]
        if len(rows) < accumulate:
            # Too few pairs for every micro-batch (or process): repeat one with all labels
            # ignored, so each still runs a backward pass but adds nothing to the loss.
            filler = self.train_pairs[0]
            batches = [self.collate([r]) for r in rows]
            while len(batches) < accumulate:
                empty = self.collate([filler])
                empty["labels"].fill_(IGNORE_INDEX)
                batches.append(empty)
            return batches
        size = -(-len(rows) // accumulate)
        return [self.collate(rows[i : i + size]) for i in range(0, len(rows), size)]

    loss = staticmethod(batch_loss)

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module, *, device: torch.device, max_batches: int | None, batch_size: int
    ) -> dict[str, Any]:
        """Teacher-forced validation loss and perplexity over every validation pair."""
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        for start in range(0, len(self.valid_pairs), batch_size):
            batch = self.collate(self.valid_pairs[start : start + batch_size])
            summed, tokens = self.loss(
                model, {k: v.to(device) for k, v in batch.items()}, label_smoothing=0.0
            )
            total, count = total + summed.item(), count + int(tokens)
        model.train(was_training)
        mean = total / max(count, 1)
        return {"loss": mean, "perplexity": perplexity(mean), "tokens": count}


def _translation_task(config: RunConfig, resume_from: Path | None) -> Task:
    data, train = config.data, config.train
    return TranslationTask(
        data,
        seed=train.seed,
        batch_tokens=train.batch_tokens or train.batch_size * data.block_size,
        tokenizers=TranslationTokenizers.load(resume_from) if resume_from else None,
    )


def _language_model_task(config: RunConfig, resume_from: Path | None) -> Task:
    tokenizer = load_tokenizer(resume_from / "tokenizer.json") if resume_from else None
    return LanguageModelTask(config.data, seed=config.train.seed, tokenizer=tokenizer)


def _masked_language_model_task(config: RunConfig, resume_from: Path | None) -> Task:
    tokenizer = load_tokenizer(resume_from / "tokenizer.json") if resume_from else None
    task = MaskedLanguageModelTask(config.data, seed=config.train.seed, tokenizer=tokenizer)
    model = config.model
    for key, value in task.vocab_sizes.items():
        wanted = getattr(model, key)
        if key != "vocab_size" and wanted is not None and wanted != value:
            raise ValueError(
                f"model.{key}={wanted} is not the tokenizer's id {value}: training puts "
                f"{', '.join(MLM_SPECIALS)} at ids 0.. ; remove model.{key} or set it to {value}"
            )
    return task


def _classification_task(config: RunConfig, resume_from: Path | None) -> Task:
    return ImageClassificationTask(config.data, config.model, seed=config.train.seed)


def _captioning_task(config: RunConfig, resume_from: Path | None) -> Task:
    # The caption vocabulary is fixed by the kind of mosaics: nothing to reload.
    return CaptioningTask(config.data, config.model, seed=config.train.seed)


# The task that trains each model kind from a recipe.
TASKS: dict[str, Callable[[RunConfig, Path | None], Task]] = {
    "decoder_lm": _language_model_task,
    "encoder": _masked_language_model_task,
    **{kind: _translation_task for kind in TRANSLATION_KINDS},
    "vit": _classification_task,
    "captioner": _captioning_task,
}


def build_task(config: RunConfig, *, resume_from: Path | None = None) -> Task:
    """The task that trains ``config.model.kind``; with ``resume_from`` (a run
    directory) its saved tokenizers are reused instead of training new ones."""
    kind = config.model.kind
    if kind not in TASKS:
        known = [repr(k) for k in TASKS]
        raise ValueError(
            f"training model.kind={kind!r} from a recipe is not supported yet; train "
            f"{', '.join(known[:-1])} or {known[-1]}"
        )
    return TASKS[kind](config, resume_from)
