"""Typed, frozen configuration of the model families and of runs.

Defaults live only in the dataclasses. Every value is checked when a config is built; a
bad value raises a :class:`ConfigError` that names the dotted key and says what is
allowed, e.g. ``model.num_heads=5 does not divide model.d_model=128``.

- :mod:`~attnkit.config.checks`: ``ConfigError`` and the checks declared on fields.
- :mod:`~attnkit.config.models`: one config per model family, and the keyword sets they
  hand to ``attnkit.nn``.
- :mod:`~attnkit.config.runs`: data, training and the whole run.
- :mod:`~attnkit.config.loading`: TOML recipes, ``--set`` overrides, plain dicts.

This package imports no torch, so configs can be read and checked anywhere.
"""

from attnkit.config.checks import ConfigError
from attnkit.config.loading import (
    config_from_dict,
    config_to_dict,
    load_run_config,
    parse_override,
    run_config_from_dict,
    run_config_to_dict,
)
from attnkit.config.models import (
    ABSOLUTE_SCHEMES,
    ACTIVATIONS,
    COMBINE_MODES,
    MODEL_CONFIGS,
    NORMS,
    PATCH_STEMS,
    POOLINGS,
    POSITIONAL_SCHEMES,
    RNN_ATTENTIONS,
    RNN_CELLS,
    SCORE_FUNCTIONS,
    TRANSLATION_KINDS,
    DecoderLMConfig,
    EncoderConfig,
    ImageCaptionerConfig,
    ModelConfig,
    RNNSeq2SeqConfig,
    Seq2SeqConfig,
    TransformerConfig,
    VisionTransformerConfig,
    embedding_options,
    stack_options,
)
from attnkit.config.runs import (
    BIBLE_CORPORA,
    BIBLE_TEXT_CORPORA,
    CAPTION_CORPORA,
    CORPORA,
    DEFAULT_CORPUS,
    IMAGE_CORPORA,
    PARALLEL_CORPORA,
    PRECISIONS,
    SCHEDULES,
    TEXT_CORPORA,
    TOKENIZER_KINDS,
    DataConfig,
    RunConfig,
    TrainConfig,
)

__all__ = [
    "ABSOLUTE_SCHEMES",
    "ACTIVATIONS",
    "BIBLE_CORPORA",
    "BIBLE_TEXT_CORPORA",
    "CAPTION_CORPORA",
    "COMBINE_MODES",
    "CORPORA",
    "DEFAULT_CORPUS",
    "IMAGE_CORPORA",
    "MODEL_CONFIGS",
    "NORMS",
    "PARALLEL_CORPORA",
    "PATCH_STEMS",
    "POOLINGS",
    "POSITIONAL_SCHEMES",
    "PRECISIONS",
    "RNN_ATTENTIONS",
    "RNN_CELLS",
    "SCHEDULES",
    "SCORE_FUNCTIONS",
    "TEXT_CORPORA",
    "TOKENIZER_KINDS",
    "TRANSLATION_KINDS",
    "ConfigError",
    "DataConfig",
    "DecoderLMConfig",
    "EncoderConfig",
    "ImageCaptionerConfig",
    "ModelConfig",
    "RNNSeq2SeqConfig",
    "RunConfig",
    "Seq2SeqConfig",
    "TrainConfig",
    "TransformerConfig",
    "VisionTransformerConfig",
    "config_from_dict",
    "config_to_dict",
    "embedding_options",
    "load_run_config",
    "parse_override",
    "run_config_from_dict",
    "run_config_to_dict",
    "stack_options",
]
