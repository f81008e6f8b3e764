"""``attnkit demo``: the worked example of attention printed number by number, then a small
translator trained on the spot, its held-out phrases and its cross-attention drawn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.options import add_seed_option
from attnkit.cli.parsing import positive_int
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:  # the CLI imports torch only when a command needs it
    import torch

    from attnkit.cli.options import Commands

# The figures written into --out, in the order they are printed.
DEMO_FIGURES = (
    "attention_worked_example.png",
    "translation_cross_attention.png",
    "translation_cross_attention_heads.png",
)


def _fmt_vector(vector: torch.Tensor, digits: int = 0) -> str:
    return "[" + ", ".join(f"{float(x):.{digits}f}" for x in vector) + "]"


def _fmt_per_word(words: Sequence[str], vector: torch.Tensor, digits: int = 4) -> str:
    pairs = zip(words, vector, strict=True)
    return "  ".join(f"{word}={float(x):.{digits}f}" for word, x in pairs)


def _cmd_demo(args: argparse.Namespace) -> int:
    from attnkit.demos import train_phrase_translator, worked_example
    from attnkit.viz import plot_attention, plot_attention_heads

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {str(out_dir)!r} exists and is not a folder")

    ex = worked_example()
    words, word = ex.words, ex.words[ex.query_index]
    d_k = ex.keys.shape[-1]
    print(f"1. Attention as a soft key-value lookup (d_k = {d_k})")
    for w, k, v in zip(words, ex.keys, ex.values, strict=True):
        print(f"  {w:<5} key={_fmt_vector(k)}  value={_fmt_vector(v)}")
    print(f"  query = key of '{word}' = {_fmt_vector(ex.query)}")
    print(f"  raw scores    q.k           {_fmt_per_word(words, ex.raw_scores)}")
    print(f"  scaled scores q.k/sqrt({d_k})   {_fmt_per_word(words, ex.scaled_scores)}")
    print(f"  softmax weights             {_fmt_per_word(words, ex.weights)}")
    print(f"  output  sum_i w_i v_i = {_fmt_vector(ex.output, 4)}")
    print(f"  value of '{word}'       = {_fmt_vector(ex.values[ex.query_index], 4)}")
    figure = plot_attention(
        ex.self_lookup,
        x_labels=list(words),
        y_labels=list(words),
        title="softmax(q·kᵀ/√3): each word queries with its own key",
        path=out_dir / DEMO_FIGURES[0],
    )
    print(f"  figure: {figure}")

    print("\n2. An encoder-decoder Transformer learns Spanish -> English noun phrases")
    translator = train_phrase_translator(steps=args.steps, seed=args.seed)
    losses = translator.losses
    print(
        f"  trained {len(losses)} steps on {len(translator.train_pairs)} phrases in "
        f"{translator.seconds:.1f} s: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    )
    hypotheses = translator.translate([p.source for p in translator.test_pairs])
    correct = 0
    print("  held-out phrases (never seen in training), greedy decoding:")
    for pair, hypothesis in zip(translator.test_pairs, hypotheses, strict=True):
        ok = hypothesis == pair.target
        correct += ok
        print(
            f"    {pair.source:<22} -> {hypothesis:<20} {'ok' if ok else 'expected ' + pair.target}"
        )
    print(f"  exact: {correct}/{len(hypotheses)}")

    source, target = "la casa roja", translator.translate(["la casa roja"])[0]
    maps = translator.cross_attention(source, target)  # (L, H, T, S)
    x_labels = [*source.split(), "<eos>"]
    # Row t is the decoder step that *produces* word t (its input is the word before).
    y_labels = [*target.split(), "<eos>"]
    figure = plot_attention(
        maps[-1].mean(0),
        x_labels=x_labels,
        y_labels=y_labels,
        x_title="source word (key)",
        y_title="output word being produced (query)",
        title=f"cross-attention, last layer (mean of heads): {source} -> {target}",
        path=out_dir / DEMO_FIGURES[1],
    )
    print(f"  figure: {figure}")
    figure = plot_attention_heads(
        maps,
        x_labels=x_labels,
        y_labels=y_labels,
        title=f"cross-attention per layer and head: {source} -> {target}",
        path=out_dir / DEMO_FIGURES[2],
    )
    print(f"  figure: {figure}")
    return EXIT_OK


def add_demo(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo", help="the attention worked example: printed numbers and a heatmap"
    )
    demo.add_argument(
        "--out",
        default="runs/demo",
        metavar="DIR",
        help="folder for the figure (default: runs/demo)",
    )
    demo.add_argument(
        "--steps",
        type=positive_int,
        default=400,
        help="training steps of the small translator (default: 400)",
    )
    add_seed_option(demo)
    demo.set_defaults(func=_cmd_demo)
