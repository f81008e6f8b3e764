"""The lab: one experiment per claim of the notes, each a module with
``run(*, out, quick=False, seed=0) -> Verdict`` (``attnkit lab NAME``), its verdict
rule declared in the module (``RULE`` or ``rules()``, see :mod:`attnkit.lab.verdicts`)
and, as ``PUBLISHED``, the published result the claim echoes.

Claims are listed in the order of the notes. Modules are imported only when a claim
runs, so ``attnkit lab --list`` is instant.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from attnkit.lab.report import Verdict, write_index, write_verdict

__all__ = ["CLAIMS", "Verdict", "claim_module", "run_claim", "write_index"]

# name → one-line description, in the order of the notes.
CLAIMS: dict[str, str] = {
    "scaling": "without ÷√d the dot products grow with d and the softmax peaks",
    "permutation": "self-attention without positions is permutation-equivariant",
    "positions": "positional schemes, added or concatenated, in and beyond training lengths",
    "masking": "without the causal mask a next-token model cheats",
    "heads": "one head against several at equal width",
    "layernorm": "with or without layer norm, post-LN against pre-LN",
    "residual": "with or without residual connections in a deeper stack",
    "qkv": "learnable Q/K/V projections against raw inputs",
    "alignment": "dot, scaled dot, general and additive scores on the same task",
    "long-range": "accuracy against dependency distance, Transformer against RNNs",
    "steps": "steps and wall time to a target, Transformer against RNN + attention",
    "parallel": "training throughput against sequence length (recurrence is sequential)",
    "gradients": "gradient reaching early positions: RNN, LSTM, Transformer",
    "bottleneck": "an RNN encoder–decoder without attention degrades with source length",
    "path-length": "attention reaches any position in one step",
    "vision-distance": "a ViT's low layers already attend far (in pixels)",
}


def claim_module(name: str):
    """The module implementing claim ``name``; ``ValueError`` listing the claims if
    there is none."""
    if name not in CLAIMS:
        raise ValueError(f"unknown lab claim {name!r}; choose one of: {', '.join(CLAIMS)}")
    return importlib.import_module(f"attnkit.lab.{name.replace('-', '_')}")


def run_claim(name: str, *, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    """Run one experiment into ``out`` (created) and write its verdict files there."""
    module = claim_module(name)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    verdict = module.run(out=out, quick=quick, seed=seed)
    verdict.seconds, verdict.quick, verdict.seed = time.perf_counter() - start, quick, seed
    verdict.published = verdict.published or getattr(module, "PUBLISHED", "")
    write_verdict(verdict, out)
    return verdict
