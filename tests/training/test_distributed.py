"""Data-parallel training with torchrun: 2 CPU processes (gloo) give the weights of one
process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from attnkit.training.checkpoint import load_checkpoint

RECIPE = """
[model]
kind = "decoder_lm"
num_layers = 2
num_heads = 2
d_model = 16
dropout = 0.0
max_len = 32

[data]
train = "{corpus}"
block_size = 16

[train]
steps = 6
batch_size = 8
accumulate = 2
lr = 1e-2
eval_every = 3
eval_batches = 2
log_every = 1
device = "cpu"
"""


def run(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def train_with_one_and_two_processes(recipe_text: str, tmp_path: Path):
    """Train the recipe with torchrun on 2 processes and plainly on 1; return both runs'
    final checkpoints."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(recipe_text, encoding="utf-8")
    torchrun = Path(sys.executable).with_name("torchrun")
    run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "attnkit",
            "train",
            str(recipe),
            "--out",
            str(tmp_path / "two"),
            "--quiet",
        ],
        tmp_path,
    )
    run(
        [
            sys.executable,
            "-m",
            "attnkit",
            "train",
            str(recipe),
            "--out",
            str(tmp_path / "one"),
            "--quiet",
        ],
        tmp_path,
    )
    return load_checkpoint(tmp_path / "two"), load_checkpoint(tmp_path / "one")


def test_two_processes_equal_one_with_the_same_global_batch(corpus, tmp_path):
    two, one = train_with_one_and_two_processes(RECIPE.format(corpus=corpus), tmp_path)
    assert two.step == one.step == 6
    for name, weight in one.model_state.items():
        torch.testing.assert_close(two.model_state[name], weight, atol=1e-5, rtol=0)
    # only rank 0 writes: one line per logged step, not two
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(x)["step"] for x in lines if json.loads(x)["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


TRANSLATION_RECIPE = """
[model]
kind = "seq2seq"
d_model = 16
num_heads = 2
num_encoder_layers = 1
num_decoder_layers = 1
d_ff = 32
dropout = 0.0

[data]
corpus = "reverse"
tokenizer = "char"
block_size = 16

[train]
steps = 4
batch_tokens = 256
lr = 1e-2
eval_every = 0
log_every = 1
device = "cpu"
"""


def test_translation_with_two_processes_equals_one(tmp_path):
    two, one = train_with_one_and_two_processes(TRANSLATION_RECIPE, tmp_path)
    for name, weight in one.model_state.items():
        torch.testing.assert_close(two.model_state[name], weight, atol=1e-5, rtol=0)
