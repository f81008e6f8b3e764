"""Tests of attnkit.config: validation messages, frozen dataclasses, dict round-trips,
the torch-free import and the keyword sets handed to attnkit.nn."""

import dataclasses
import inspect
import json
import subprocess
import sys
from typing import ClassVar

import pytest

from attnkit.config import (
    MODEL_CONFIGS,
    ConfigError,
    DataConfig,
    DecoderLMConfig,
    EncoderConfig,
    ImageCaptionerConfig,
    RNNSeq2SeqConfig,
    Seq2SeqConfig,
    TrainConfig,
    TransformerConfig,
    VisionTransformerConfig,
    config_from_dict,
    config_to_dict,
    embedding_options,
    run_config_from_dict,
    run_config_to_dict,
    stack_options,
)
from attnkit.config.checks import field_rules, number

LM = {"vocab_size": 10}
S2S = {"src_vocab_size": 10, "tgt_vocab_size": 12}


def _raises(cls, message_parts, **values):
    """Build ``cls(**values)``; assert a ConfigError whose message holds every part."""
    with pytest.raises(ConfigError) as info:
        cls(**values)
    message = str(info.value)
    for part in message_parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


# ------------------------------------------------------------------ valid configs


@pytest.mark.parametrize(
    "cls, required",
    [(DecoderLMConfig, LM), (EncoderConfig, LM), (Seq2SeqConfig, S2S)],
)
def test_defaults_are_valid_and_consistent(cls, required):
    config = cls(**required)
    assert config.head_dim * config.num_heads == config.d_model
    assert config.ff_width == 4 * config.d_model
    assert MODEL_CONFIGS[cls.kind] is cls
    assert isinstance(config, TransformerConfig)


def test_seq2seq_defaults_follow_the_paper():
    config = Seq2SeqConfig(**S2S)
    assert config.norm_first is False
    assert config.activation == "relu"
    assert config.positional == "sinusoidal"
    assert config.embed_scale is True


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# ------------------------------------------------------------------ validation messages


def test_heads_must_divide_width_exact_message():
    with pytest.raises(ConfigError) as info:
        DecoderLMConfig(vocab_size=10, d_model=128, num_heads=5)
    assert str(info.value) == "model.num_heads=5 does not divide model.d_model=128"


@pytest.mark.parametrize(
    "key, bad, allowed",
    [
        ("score", "cosine", ("dot", "scaled_dot", "general", "additive")),
        (
            "positional",
            "absolute",
            ("sinusoidal", "learned", "relative", "rope", "alibi", "none"),
        ),
        ("activation", "tanh", ("relu", "gelu", "swiglu")),
        ("norm", "batchnorm", ("layernorm", "rmsnorm", "none")),
        ("pos_combine", "mul", ("add", "concat")),
    ],
)
def test_bad_choice_names_key_and_lists_allowed_values(key, bad, allowed):
    message = _raises(DecoderLMConfig, [f"model.{key}={bad!r}", *allowed], **LM, **{key: bad})
    assert "choose one of" in message


@pytest.mark.parametrize("key", ["dropout", "attn_dropout", "activation_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.1"])
def test_dropout_must_be_in_unit_interval(key, bad):
    _raises(DecoderLMConfig, [f"model.{key}=", "[0, 1)"], **LM, **{key: bad})


@pytest.mark.parametrize("key", ["dropout", "attn_dropout", "activation_dropout"])
@pytest.mark.parametrize("good", [0, 0.0, 0.5, 0.999])
def test_dropout_accepts_probabilities(key, good):
    assert getattr(DecoderLMConfig(**LM, **{key: good}), key) == good


def test_activation_dropout_sets_only_the_feed_forward_hidden_dropout():
    from attnkit.models import build_model

    model = build_model(DecoderLMConfig(**LM, dropout=0.2, activation_dropout=0.0))
    layer = model.decoder.layers[0]
    assert layer.ffn.dropout.p == 0.0
    assert layer.dropout.p == 0.2 and layer.self_attn.dropout == 0.2
    default = build_model(DecoderLMConfig(**LM, dropout=0.2)).decoder.layers[0]
    assert default.ffn.dropout.p == 0.2


@pytest.mark.parametrize(
    "cls, required, key",
    [
        (DecoderLMConfig, LM, "d_model"),
        (DecoderLMConfig, LM, "num_heads"),
        (DecoderLMConfig, LM, "num_layers"),
        (DecoderLMConfig, LM, "vocab_size"),
        (DecoderLMConfig, LM, "max_len"),
        (DecoderLMConfig, LM, "d_ff"),
        (DecoderLMConfig, LM, "num_kv_heads"),
        (DecoderLMConfig, LM, "pos_dim"),
        (DecoderLMConfig, LM, "relative_buckets"),
        (DecoderLMConfig, LM, "relative_max_distance"),
        (EncoderConfig, LM, "num_layers"),
        (Seq2SeqConfig, S2S, "src_vocab_size"),
        (Seq2SeqConfig, S2S, "tgt_vocab_size"),
        (Seq2SeqConfig, S2S, "num_encoder_layers"),
        (Seq2SeqConfig, S2S, "num_decoder_layers"),
    ],
)
@pytest.mark.parametrize("bad", [0, -3, 2.0, True])
def test_counts_must_be_positive_integers(cls, required, key, bad):
    values = {**required, key: bad}
    _raises(cls, [f"model.{key}={bad!r}", "positive integer"], **values)


def test_rope_needs_even_head_width():
    # d_model 12 / 4 heads = head width 3
    _raises(
        DecoderLMConfig,
        ["model.positional='rope'", "even head width", "= 3"],
        **LM,
        d_model=12,
        num_heads=4,
        positional="rope",
    )
    DecoderLMConfig(**LM, d_model=16, num_heads=4, positional="rope")  # width 4: fine


@pytest.mark.parametrize("positional", ["rope", "alibi", "relative", "none"])
def test_concat_needs_an_absolute_scheme(positional):
    _raises(
        DecoderLMConfig,
        ["model.pos_combine='concat'", "'sinusoidal' or 'learned'", repr(positional)],
        **LM,
        positional=positional,
        pos_combine="concat",
        tie_embeddings=False,
    )


def test_concat_with_tied_embeddings_says_how_to_fix():
    _raises(
        DecoderLMConfig,
        ["model.tie_embeddings", "set model.tie_embeddings=false"],
        **LM,
        pos_combine="concat",
    )
    config = DecoderLMConfig(**LM, pos_combine="concat", tie_embeddings=False)
    assert config.pos_combine == "concat"


@pytest.mark.parametrize("pos_dim", [128, 200])
def test_concat_pos_dim_must_leave_room_for_tokens(pos_dim):
    _raises(
        DecoderLMConfig,
        [f"model.pos_dim={pos_dim}", "model.d_model-1=127"],
        **LM,
        pos_combine="concat",
        tie_embeddings=False,
        pos_dim=pos_dim,
    )


@pytest.mark.parametrize("bad", [10, -1, 11, 1.0, True])
def test_decoder_pad_id_must_be_in_vocab(bad):
    _raises(DecoderLMConfig, [f"model.pad_id={bad!r}", "model.vocab_size=10"], **LM, pad_id=bad)


@pytest.mark.parametrize("key", ["pad_id", "mask_id"])
def test_encoder_special_ids_must_be_in_vocab(key):
    _raises(EncoderConfig, [f"model.{key}=10", "[0, model.vocab_size=10)"], **LM, **{key: 10})


def test_encoder_mask_id_must_differ_from_pad_id():
    # With mask_id == pad_id every [MASK] is treated as padding: hidden from attention
    # and skipped by the position count, so the model cannot fill it.
    _raises(EncoderConfig, ["model.mask_id", "model.pad_id"], vocab_size=10, pad_id=0, mask_id=0)


def test_seq2seq_pad_id_must_be_in_both_vocabs():
    _raises(
        Seq2SeqConfig,
        ["model.pad_id=11", "model.tgt_vocab_size=11"],
        src_vocab_size=20,
        tgt_vocab_size=11,
        pad_id=11,
    )
    _raises(
        Seq2SeqConfig,
        ["model.pad_id=11", "model.src_vocab_size=11"],
        src_vocab_size=11,
        tgt_vocab_size=20,
        pad_id=11,
    )


def test_share_embeddings_needs_equal_vocabularies():
    _raises(
        Seq2SeqConfig,
        ["model.share_embeddings=true", "model.src_vocab_size (10)", "model.tgt_vocab_size (12)"],
        **S2S,
        share_embeddings=True,
    )
    assert Seq2SeqConfig(src_vocab_size=9, tgt_vocab_size=9, share_embeddings=True)


def test_kv_heads_must_divide_heads():
    message = _raises(DecoderLMConfig, [], **LM, num_heads=4, num_kv_heads=3)
    assert message == "model.num_kv_heads=3 does not divide model.num_heads=4"
    assert DecoderLMConfig(**LM, num_heads=4, num_kv_heads=2).num_kv_heads == 2


@pytest.mark.parametrize(
    "key, bad, part",
    [
        ("relative_buckets", 3, ">= 4"),
        ("rope_base", 1.0, "> 1"),
        ("norm_eps", 0.0, "> 0"),
        ("init_std", -0.1, "> 0"),
    ],
)
def test_other_numeric_limits(key, bad, part):
    _raises(DecoderLMConfig, [f"model.{key}={bad}", part], **LM, **{key: bad})


# ------------------------------------------------------------------ frozen


@pytest.mark.parametrize(
    "config",
    [DecoderLMConfig(**LM), EncoderConfig(**LM), Seq2SeqConfig(**S2S)],
    ids=["decoder_lm", "encoder", "seq2seq"],
)
def test_configs_are_frozen(config):
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.d_model = 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dropout = 0.0
    assert config.d_model == 128


def test_configs_are_keyword_only():
    with pytest.raises(TypeError):
        DecoderLMConfig(10)  # type: ignore[misc]


# ------------------------------------------------------------------ dict round-trips


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        config_from_dict(DecoderLMConfig, {"vocab_size": 10, "num_head": 4})
    assert str(info.value) == "unknown key model.num_head; did you mean model.num_heads?"


def test_unknown_key_without_close_match_has_no_suggestion():
    with pytest.raises(ConfigError) as info:
        config_from_dict(DecoderLMConfig, {"vocab_size": 10, "zzzzqqq": 4})
    assert str(info.value) == "unknown key model.zzzzqqq"


def test_kind_is_not_a_config_key():
    with pytest.raises(ConfigError, match=r"unknown key model\.kind"):
        config_from_dict(DecoderLMConfig, {"vocab_size": 10, "kind": "decoder_lm"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Section:
    section: ClassVar[str] = "demo"
    width: int
    depth: int = 2


def test_missing_required_key():
    with pytest.raises(ConfigError) as info:
        config_from_dict(_Section, {"depth": 3})
    assert str(info.value) == "missing required key demo.width"
    assert config_from_dict(_Section, {"width": 4}) == _Section(width=4)


def test_unknown_key_is_reported_before_missing_ones():
    with pytest.raises(ConfigError, match=r"unknown key demo\.widht; did you mean demo\.width\?"):
        config_from_dict(_Section, {"widht": 4})


@pytest.mark.parametrize(
    "cls, key",
    [
        (DecoderLMConfig, "vocab_size"),
        (EncoderConfig, "vocab_size"),
        (Seq2SeqConfig, "src_vocab_size"),
    ],
)
def test_unset_vocabulary_is_reported_when_building_a_model(cls, key):
    config = config_from_dict(cls, {})  # vocabularies come from the tokenizer when training
    with pytest.raises(ConfigError, match=rf"model\.{key} is not set"):
        config.require_vocab()
    from attnkit import build_model

    with pytest.raises(ConfigError, match=rf"model\.{key} is not set"):
        build_model(config)


def test_seq2seq_reports_the_unset_target_vocabulary():
    with pytest.raises(ConfigError, match=r"model\.tgt_vocab_size is not set"):
        Seq2SeqConfig(src_vocab_size=5).require_vocab()


def test_config_from_dict_validates_values():
    with pytest.raises(ConfigError, match=r"model\.num_heads=3 does not divide model\.d_model=32"):
        config_from_dict(DecoderLMConfig, {"vocab_size": 10, "d_model": 32, "num_heads": 3})


def test_config_from_dict_custom_section():
    with pytest.raises(ConfigError, match=r"unknown key lm\.num_head; did you mean lm\.num_heads"):
        config_from_dict(DecoderLMConfig, {"vocab_size": 10, "num_head": 4}, section="lm")


@pytest.mark.parametrize(
    "config",
    [
        DecoderLMConfig(
            vocab_size=33,
            d_model=48,
            num_heads=6,
            num_kv_heads=2,
            positional="rope",
            pad_id=3,
            dropout=0.0,
            tie_embeddings=False,
            score="general",
        ),
        EncoderConfig(vocab_size=20, mask_id=4, norm="rmsnorm", activation="swiglu"),
        Seq2SeqConfig(
            src_vocab_size=15,
            tgt_vocab_size=15,
            share_embeddings=True,
            pos_combine="concat",
            tie_embeddings=False,
            pos_dim=8,
            num_decoder_layers=1,
        ),
    ],
    ids=["decoder_lm", "encoder", "seq2seq"],
)
def test_config_to_dict_round_trips(config):
    values = config_to_dict(config)
    assert values["kind"] == config.kind
    json.loads(json.dumps(values))  # plain JSON-ready values
    del values["kind"]
    rebuilt = config_from_dict(type(config), values)
    assert rebuilt == config
    assert type(rebuilt) is type(config)


def test_config_to_dict_has_every_field():
    config = Seq2SeqConfig(**S2S)
    values = config_to_dict(config)
    assert set(values) == {f.name for f in dataclasses.fields(config)} | {"kind"}


# ------------------------------------------------------------------ torch-free, in step with nn


def test_constants_match_attnkit_nn():
    import attnkit.config as config
    import attnkit.nn as nn

    assert config.POSITIONAL_SCHEMES == nn.POSITIONAL_SCHEMES
    assert config.ABSOLUTE_SCHEMES == nn.ABSOLUTE_SCHEMES
    assert config.SCORE_FUNCTIONS == nn.SCORE_FUNCTIONS
    assert config.ACTIVATIONS == nn.ACTIVATIONS
    assert config.NORMS == nn.NORMS
    assert config.COMBINE_MODES == nn.COMBINE_MODES
    assert config.PATCH_STEMS == nn.PATCH_STEMS


def test_config_module_imports_without_torch():
    code = (
        "import sys\n"
        "import attnkit.config\n"
        "attnkit.config.DecoderLMConfig(vocab_size=10)\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "importing attnkit.config imported torch"


def _accepted_keywords(*callables) -> set[str]:
    names: set[str] = set()
    for fn in callables:
        for name, parameter in inspect.signature(fn).parameters.items():
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                names.add(name)
    return names


@pytest.mark.parametrize(
    "config",
    [
        DecoderLMConfig(vocab_size=10, d_model=16, num_heads=2, num_layers=1, d_ff=24),
        EncoderConfig(vocab_size=10, d_model=16, num_heads=2, positional="relative"),
        Seq2SeqConfig(
            src_vocab_size=10,
            tgt_vocab_size=10,
            d_model=16,
            num_heads=4,
            num_kv_heads=2,
            pos_combine="concat",
            tie_embeddings=False,
        ),
    ],
    ids=["decoder_lm", "encoder", "seq2seq"],
)
def test_option_keys_are_accepted_by_nn_blocks(config):
    from attnkit.nn import InputEmbedding, TransformerLayer, TransformerStack

    stack_keys = set(stack_options(config))
    known = _accepted_keywords(TransformerStack.__init__, TransformerLayer.__init__)
    assert stack_keys <= known, stack_keys - known
    embed_keys = set(embedding_options(config))
    assert embed_keys <= _accepted_keywords(InputEmbedding.__init__)

    stack = TransformerStack(1, **stack_options(config))
    layer = stack.layers[0]
    assert layer.ffn is not None
    assert layer.self_attn.num_heads == config.num_heads
    assert layer.self_attn.num_kv_heads == (config.num_kv_heads or config.num_heads)
    embedding = InputEmbedding(10, **embedding_options(config))
    assert embedding.combine == config.pos_combine


# ------------------------------------------------------------------ checks from field metadata

SECTIONS = [*MODEL_CONFIGS.values(), DataConfig, TrainConfig]
# Free-form values: paths to the user's files, and the device (checked where it is resolved).
UNCHECKED = {
    "data": {"train", "train_target", "valid", "valid_target", "test", "test_target"},
    "train": {"device"},
}


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda cls: cls.__name__)
def test_every_field_declares_a_check(cls):
    unchecked = {name for name, rules in field_rules(cls) if not rules}
    assert unchecked == UNCHECKED.get(cls.section, set())


@pytest.mark.parametrize(
    "cls, name",
    [
        (cls, item.name)
        for cls in SECTIONS
        for item in dataclasses.fields(cls)
        if item.type in ("bool", bool)
    ],
)
def test_every_bool_field_must_hold_a_bool(cls, name):
    required = {key: 10 for key in getattr(cls, "vocab_keys", ())}
    with pytest.raises(ConfigError) as info:
        cls(**required, **{name: "false"})
    assert str(info.value) == f"{cls.section}.{name}='false' must be true or false"


def test_train_booleans_use_the_shared_check():
    with pytest.raises(ConfigError) as info:
        TrainConfig(anneal_by_time="yes")
    assert str(info.value) == "train.anneal_by_time='yes' must be true or false"
    with pytest.raises(ConfigError, match=r"^train\.compile=1 must be true or false$"):
        TrainConfig(compile=1)


@pytest.mark.parametrize(
    "cls, values, message",
    [
        (TrainConfig, {"lr": 0}, "train.lr=0 must be > 0"),
        (TrainConfig, {"eps": "1e-8"}, "train.eps='1e-8' must be > 0"),
        (TrainConfig, {"min_lr": -1e-4}, "train.min_lr=-0.0001 must be >= 0"),
        (TrainConfig, {"beta2": 1.0}, "train.beta2=1.0 must be in [0, 1)"),
        (TrainConfig, {"max_minutes": -1}, "train.max_minutes=-1 must be >= 0 (0 = no limit)"),
        (TrainConfig, {"warmup_steps": 2.5}, "train.warmup_steps=2.5 must be an integer >= 0"),
        (TrainConfig, {"keep_last": 0}, "train.keep_last=0 must be a positive integer"),
        (TrainConfig, {"steps": True}, "train.steps=True must be a positive integer"),
        (
            TrainConfig,
            {"label_smoothing": 1.0},
            "train.label_smoothing=1.0 must be a probability in [0, 1)",
        ),
        (
            TrainConfig,
            {"precision": "fp8"},
            "train.precision='fp8' is not allowed; choose one of auto, fp32, bf16, fp16",
        ),
        (DataConfig, {"val_fraction": 0.5}, "data.val_fraction=0.5 must be in (0, 0.5)"),
        (DataConfig, {"mosaic_size": 5}, "data.mosaic_size=5 must be 2, 3 or 4"),
        (DataConfig, {"augment_shift": 9}, "data.augment_shift=9 must be 0–8 pixels"),
        (
            DataConfig,
            {"tokenizer": "sentencepiece"},
            "data.tokenizer='sentencepiece' is not allowed; choose one of char, word, bpe",
        ),
        (DecoderLMConfig, {**LM, "rope_base": "x"}, "model.rope_base='x' must be > 1"),
        (
            DecoderLMConfig,
            {**LM, "relative_buckets": 0},
            "model.relative_buckets=0 must be a positive integer",
        ),
        (
            ImageCaptionerConfig,
            {"num_encoder_layers": -1},
            "model.num_encoder_layers=-1 must be >= 0",
        ),
        (
            RNNSeq2SeqConfig,
            {"cell": "transformer"},
            "model.cell='transformer' is not allowed; choose one of rnn, lstm, gru",
        ),
    ],
)
def test_field_checks_give_exact_messages(cls, values, message):
    with pytest.raises(ConfigError) as info:
        cls(**values)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "cls, values, part",
    [
        (Seq2SeqConfig, {**S2S, "activation": "tanh"}, "model.activation='tanh' is not allowed"),
        (Seq2SeqConfig, {**S2S, "positional": "abs"}, "model.positional='abs' is not allowed"),
        (Seq2SeqConfig, {**S2S, "norm_first": "no"}, "model.norm_first='no' must be true"),
        (ImageCaptionerConfig, {"max_len": 0}, "model.max_len=0 must be a positive integer"),
    ],
)
def test_a_changed_default_keeps_the_base_check(cls, values, part):
    _raises(cls, [part], **values)


@pytest.mark.parametrize(
    "cls, values, message",
    [
        (TrainConfig, {"batch_size": 10, "accumulate": 4}, "train.accumulate=4 does not divide"),
        (TrainConfig, {"lr": 1e-3, "min_lr": 1e-2}, "train.min_lr=0.01 must not exceed"),
        (TrainConfig, {"schedule": "noam", "warmup_steps": 0}, "needs train.warmup_steps >= 1"),
        (DataConfig, {"valid_target": "v.txt"}, "data.valid_target is set but data.valid"),
        (RNNSeq2SeqConfig, {"hidden_size": 255}, "model.hidden_size=255 must be even"),
        (VisionTransformerConfig, {"image_width": 30}, "model.image_width=30 is not a multiple"),
    ],
)
def test_cross_field_checks_name_both_keys(cls, values, message):
    _raises(cls, [message], **values)


def test_number_checks_let_bools_through_as_before():
    # The hand-written checks these replace did; a config saved by them must still load.
    assert DecoderLMConfig(**LM, dropout=False).dropout is False
    assert DataConfig(augment_shift=True).augment_shift is True


def test_number_check_needs_one_lower_bound():
    with pytest.raises(TypeError):
        number(below=1)
    with pytest.raises(TypeError):
        number(above=0, at_least=0)


# A resolved config exactly as the single-file config module saved it in a run directory
# (with the fields added since at their defaults: data.mask_prob, data.whole_word_mask).
SAVED_RUN_CONFIG = """{"model": {"kind": "seq2seq", "d_model": 64, "num_heads": 4, \
"num_kv_heads": null, "d_ff": null, "dropout": 0.2, "attn_dropout": null, \
"activation_dropout": null, "activation": "relu", "norm": "layernorm", "norm_first": false, \
"residual": true, "qkv_proj": true, "score": "scaled_dot", "bias": true, \
"positional": "sinusoidal", "pos_combine": "add", "pos_dim": null, "max_len": 512, \
"relative_buckets": 32, "relative_max_distance": 128, "rope_base": 10000.0, \
"embed_scale": true, "tie_embeddings": true, "norm_eps": 1e-05, "init_std": 0.02, \
"src_vocab_size": 100, "tgt_vocab_size": 100, "num_encoder_layers": 3, \
"num_decoder_layers": 3, "share_embeddings": true, "pad_id": 0}, "data": {"corpus": \
"reverse", "train": null, "train_target": null, "valid": null, "valid_target": null, \
"test": null, "test_target": null, "val_fraction": 0.1, "tokenizer": "word", \
"vocab_size": 100, "joint_vocab": true, "unk": false, "block_size": 64, "max_chars": 1000, \
"mosaic_size": 3, "eval_images": 1000, "augment_shift": 0, "augment_flip": false, \
"mask_prob": 0.15, "whole_word_mask": false}, \
"train": {"steps": 10, "batch_size": 12, "batch_tokens": 0, "accumulate": 1, "lr": 0.0003, \
"min_lr": null, "schedule": "noam", "warmup_steps": 100, "weight_decay": 0.1, "beta1": 0.9, \
"beta2": 0.99, "eps": 1e-08, "grad_clip": 1.0, "label_smoothing": 0.0, "eval_every": 250, \
"eval_batches": 20, "log_every": 10, "save_every": 250, "keep_last": 3, "patience": 0, \
"precision": "auto", "device": "auto", "seed": 1337, "max_nonfinite": 5, "max_minutes": 1.5, \
"anneal_by_time": false, "compile": false}}"""


def test_a_saved_run_config_loads_and_saves_unchanged():
    config = run_config_from_dict(json.loads(SAVED_RUN_CONFIG))
    assert json.dumps(run_config_to_dict(config)) == SAVED_RUN_CONFIG
