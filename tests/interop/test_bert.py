"""BERT in and out: a checkpoint saved by transformers imports into attnkit's encoder with
the same hidden states, attention weights and masked-word logits; an attnkit encoder
exports as a BertForMaskedLM that transformers loads with the same logits; export →
import gives the same logits back."""

from __future__ import annotations

import json

import pytest
import torch

from attnkit.config import DataConfig, EncoderConfig, RunConfig
from attnkit.data.tokenizers import WordTokenizer
from attnkit.interop import export_hf, import_hf
from attnkit.training.rundir import load_run

from .conftest import SENTENCES, batch, write_bert_dir, write_run

TEXT = "the lord said unto moses , and god saw the light . " * 4


def real_rows(mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` → ``(B, 1, T, 1)``: attention rows of real query tokens."""
    return mask[:, None, :, None]


@pytest.mark.parametrize("mlm", [False, True], ids=["BertModel", "BertForMaskedLM"])
def test_an_imported_bert_computes_what_transformers_computes(tmp_path, mlm):
    from transformers import BertForMaskedLM, BertModel

    source = write_bert_dir(tmp_path / "hf", mlm=mlm)
    imported = import_hf(source, tmp_path / "run")
    assert imported.kind == "encoder" and imported.mlm_head is mlm
    run = load_run(imported.run_dir)
    tokens, mask = batch(run.tokenizer, SENTENCES)
    assert tokens[0, 0] == run.tokenizer.cls_id  # the tokenizer adds [CLS] ... [SEP]
    cls = BertForMaskedLM if mlm else BertModel
    theirs = cls.from_pretrained(source, attn_implementation="eager").eval()
    with torch.no_grad():
        reference = theirs(
            tokens, attention_mask=mask.long(), output_attentions=True, output_hidden_states=True
        )
        ours = run.model(tokens, padding_mask=mask, need_weights=True)
    hidden = reference.hidden_states[-1]
    assert (ours.hidden - hidden)[mask].abs().max() <= 1e-5
    assert len(ours.attentions.encoder) == len(reference.attentions) == 2
    for our_map, their_map in zip(ours.attentions.encoder, reference.attentions, strict=True):
        assert our_map.shape == their_map.shape  # (B, H, T, T)
        difference = (our_map - their_map).abs() * real_rows(mask)
        assert difference.max() <= 1e-5
        assert our_map[~mask[:, None, None, :].expand_as(our_map)].abs().max() == 0
    if mlm:
        assert (ours.logits - reference.logits)[mask].abs().max() <= 1e-4
    else:
        assert ours.logits is None
        assert any("pooler" in reason for reason in imported.left_out)


def test_a_vocab_txt_directory_imports_with_bert_wordpiece(tmp_path):
    source = write_bert_dir(tmp_path / "hf", mlm=True, vocab_txt=True)
    run = load_run(import_hf(source, tmp_path / "run").run_dir)
    ids = run.tokenizer.encode("The Lord SAID unto Moses [MASK]")
    assert run.tokenizer.decode(ids) == "the lord said unto moses"
    assert ids[0] == run.tokenizer.cls_id and ids[-1] == run.tokenizer.sep_id
    assert run.tokenizer.mask_id in ids and run.config.model.mask_id == run.tokenizer.mask_id


def encoder_run(tmp_path, **model):
    """A random post-LN attnkit encoder run that BERT can express (unless ``model`` says
    otherwise), on a word vocabulary with [MASK]."""
    tokenizer = WordTokenizer.train(TEXT, specials=("<pad>", "[MASK]"))
    settings = {
        "vocab_size": tokenizer.vocab_size,
        "d_model": 32,
        "num_heads": 4,
        "num_layers": 2,
        "d_ff": 40,
        "max_len": 32,
        "mask_id": tokenizer.mask_id,
        "norm_first": False,
        "embed_norm": True,
        "norm_eps": 1e-12,
        **model,
    }
    config = RunConfig(model=EncoderConfig(**settings), data=DataConfig(block_size=32))
    return write_run(tmp_path / "run", config, tokenizer), tokenizer


EXPRESSIBLE = {
    "BERT as is": {"type_vocab_size": 2},
    "no token types": {},
    "untied decoder": {"tie_embeddings": False},
    "grouped K/V heads": {"num_kv_heads": 2},
    "no biases": {"bias": False},
    "sinusoidal positions": {"positional": "sinusoidal"},
    "no positions": {"positional": "none"},
    "no MLM head, relu": {"mlm_head": False, "activation": "relu", "pooling": "cls"},
}


@pytest.mark.parametrize("model", EXPRESSIBLE.values(), ids=EXPRESSIBLE.keys())
def test_an_exported_encoder_loads_in_transformers_with_the_same_logits(tmp_path, model):
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    run_dir, tokenizer = encoder_run(tmp_path, **model)
    exported = export_hf(run_dir, tmp_path / "hf")
    head = model.get("mlm_head", True)
    assert exported.architecture == ("BertForMaskedLM" if head else "BertModel")
    assert json.loads((exported.directory / "config.json").read_text())["model_type"] == "bert"
    auto = AutoModelForMaskedLM if head else AutoModel
    theirs = auto.from_pretrained(exported.directory).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(exported.directory)
    texts = ["the lord said unto moses .", "god saw the [MASK] .", "and the light"]
    for text in texts:
        assert hf_tokenizer(text)["input_ids"] == tokenizer.encode(text)
    assert hf_tokenizer.mask_token == "[MASK]" and hf_tokenizer.pad_token == "<pad>"
    run = load_run(run_dir)
    tokens, mask = batch(tokenizer, texts)
    with torch.no_grad():
        ours = run.model(tokens, padding_mask=mask)
        reference = theirs(tokens, attention_mask=mask.long())
    if head:
        assert (ours.logits - reference.logits)[mask].abs().max() <= 1e-4
    else:
        assert (ours.hidden - reference.last_hidden_state)[mask].abs().max() <= 1e-4
    # and back: export → import gives the same model
    back = load_run(import_hf(exported.directory, tmp_path / "back").run_dir)
    with torch.no_grad():
        again = back.model(tokens, padding_mask=mask)
    if head:
        assert (again.logits - ours.logits)[mask].abs().max() <= 1e-5
        assert back.tokenizer.encode("god saw the [MASK] .") == tokens[1][mask[1]].tolist()
    else:
        assert (again.hidden - ours.hidden)[mask].abs().max() <= 1e-5
        assert back.config.model.activation == "relu"


REFUSED = {
    "pre-LN": ({"norm_first": True}, r"^model\.norm_first=true cannot be expressed as BERT"),
    "no embedding norm": ({"embed_norm": False}, r"^model\.embed_norm=false cannot be"),
    "RoPE": ({"positional": "rope"}, r"^model\.positional='rope' cannot be expressed as BERT"),
    "ALiBi": ({"positional": "alibi"}, r"^model\.positional='alibi' cannot"),
    "relative": ({"positional": "relative"}, r"^model\.positional='relative' cannot"),
    "concatenated positions": (
        {"pos_combine": "concat", "tie_embeddings": False},
        r"^model\.pos_combine='concat' cannot",
    ),
    "additive score": ({"score": "additive"}, r"^model\.score='additive' cannot"),
    "general score": ({"score": "general"}, r"^model\.score='general' cannot"),
    "unscaled dot": ({"score": "dot"}, r"^model\.score='dot' cannot"),
    "RMSNorm": ({"norm": "rmsnorm"}, r"^model\.norm='rmsnorm' cannot"),
    "SwiGLU": ({"activation": "swiglu"}, r"^model\.activation='swiglu' cannot"),
    "relu with a GELU head": ({"activation": "relu"}, r"^model\.activation='relu' cannot"),
    "scaled embeddings": ({"embed_scale": True}, r"^model\.embed_scale=true cannot"),
}


@pytest.mark.parametrize("model,message", REFUSED.values(), ids=REFUSED.keys())
def test_a_variant_bert_cannot_express_is_refused_in_one_line(tmp_path, model, message):
    run_dir, _ = encoder_run(tmp_path, **model)
    with pytest.raises(ValueError, match=message) as error:
        export_hf(run_dir, tmp_path / "hf")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "hf").exists()  # nothing half-written
    assert not list(tmp_path.glob(".hf.tmp-*"))


CONFIG_REFUSED = {
    "relative positions": (
        {"position_embedding_type": "relative_key"},
        r"config\.json: position_embedding_type='relative_key' cannot be represented",
    ),
    "tanh GELU": ({"hidden_act": "gelu_new"}, r"config\.json: hidden_act='gelu_new' cannot"),
    "a decoder": ({"is_decoder": True}, r"config\.json: is_decoder=True cannot"),
}


@pytest.mark.parametrize("overrides,message", CONFIG_REFUSED.values(), ids=CONFIG_REFUSED.keys())
def test_a_config_field_the_importer_cannot_represent_is_named(tmp_path, overrides, message):
    source = write_bert_dir(tmp_path / "hf", mlm=False, **overrides)
    with pytest.raises(ValueError, match=message) as error:
        import_hf(source, tmp_path / "run")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_other_checkpoints_are_refused_in_one_line(tmp_path):
    from safetensors.torch import load_file, save_file

    source = write_bert_dir(tmp_path / "hf", mlm=False)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ValueError, match=r"model_type='roberta' cannot be imported"):
        import_hf(source, tmp_path / "run")
    (source / "config.json").write_text(json.dumps(config))

    weights = load_file(source / "model.safetensors")
    save_file(
        {**weights, "encoder.layer.0.attention.self.distance_embedding.weight": torch.zeros(3, 4)},
        source / "model.safetensors",
    )
    with pytest.raises(ValueError, match=r"distance_embedding\.weight has no counterpart"):
        import_hf(source, tmp_path / "run")
    del weights["encoder.layer.1.output.dense.weight"]
    save_file(weights, source / "model.safetensors")
    with pytest.raises(ValueError, match=r"has no encoder\.layer\.1\.output\.dense\.weight"):
        import_hf(source, tmp_path / "run")

    (source / "model.safetensors").rename(source / "pytorch_model.bin")
    with pytest.raises(
        FileNotFoundError,
        match=r"no model\.safetensors; pytorch_model\.bin is a "
        r"pickle, which attnkit never loads",
    ):
        import_hf(source, tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        import_hf(tmp_path / "nowhere", tmp_path / "run")


def test_import_never_overwrites_a_run(tmp_path):
    source = write_bert_dir(tmp_path / "hf", mlm=False)
    import_hf(source, tmp_path / "run")
    with pytest.raises(ValueError, match="already holds a run: pass a new directory as out="):
        import_hf(source, tmp_path / "run")
