"""Shared set-up for the interop tests: tiny random models on both sides, written where a
user's files would be (a Hugging Face model directory, an attnkit run directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from attnkit.config import RunConfig
from attnkit.data.hf_tokenizer import HFTokenizer
from attnkit.models.registry import build_model
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.rundir import RunDir

WORDS = "the lord said unto moses and god saw light was good day night of in earth heaven"
# A BERT vocabulary: its special tokens, the words, and a few continuation pieces.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS.split(), "##s", "##ed", "##ing"]
SENTENCES = [
    "God saw the light was good",
    "the lord said unto Moses",
    "and the earth",
    "day and night of heaven in earth said the lord unto moses",
]


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny matmuls gain nothing from threads and lose a lot on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomize(model: torch.nn.Module, *, seed: int = 0, std: float = 0.4) -> torch.nn.Module:
    """Every parameter drawn at random (norms included), so attention is far from uniform
    and a swapped or transposed weight shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return model


def bert_tokenizer() -> HFTokenizer:
    return HFTokenizer.from_vocab(VOCAB)


def write_bert_dir(
    root: Path, *, mlm: bool, seed: int = 0, vocab_txt: bool = False, **overrides
) -> Path:
    """A random tiny BERT saved by transformers (``BertForMaskedLM`` or ``BertModel``),
    with its tokenizer as ``tokenizer.json`` (or only ``vocab.txt``)."""
    from transformers import BertConfig, BertForMaskedLM, BertModel

    settings = {
        "vocab_size": len(VOCAB),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 48,
        "max_position_embeddings": 40,
        "type_vocab_size": 2,
        **overrides,
    }
    config = BertConfig(**settings)
    model = BertForMaskedLM(config) if mlm else BertModel(config)
    randomize(model, seed=seed)
    if mlm:
        model.tie_weights()  # the decoder is the word embedding again after randomizing
    model.save_pretrained(root)
    if vocab_txt:
        (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        (root / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    else:
        bert_tokenizer().backend.save(str(root / "tokenizer.json"))
    return root


def write_run(root: Path, config: RunConfig, tokenizer, *, seed: int = 0) -> Path:
    """A run directory holding a random model of ``config`` (as training would leave one)."""
    root.mkdir(parents=True, exist_ok=True)
    RunDir(root).write_config(config)
    tokenizer.save(root / "tokenizer.json")
    model = randomize(build_model(config.model), seed=seed, std=0.3)
    save_checkpoint(root, step=1, model=model, optimizer=None, trainer_state={"step": 1})
    return root


def batch(tokenizer, texts):
    """Right-padded ids and the padding mask of ``texts``.

    Shape:
        ``(B, T)`` long, ``(B, T)`` bool.
    """
    rows = [tokenizer.encode(text) for text in texts]
    width = max(len(ids) for ids in rows)
    pad = tokenizer.pad_id or 0
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for row, ids in enumerate(rows):
        tokens[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = True
    return tokens, mask
