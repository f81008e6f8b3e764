"""The lab: one experiment per claim of the notes, each a module with
``run(*, out, quick=False, seed=0) -> Verdict`` (``attnkit lab NAME``), its verdict
rule declared in the module (``RULE`` or ``rules()``, see :mod:`attnkit.lab.verdicts`)
and, as ``PUBLISHED``, the published result the claim echoes.

Claims are listed in the order of the notes. Modules are imported only when a claim
runs, so ``attnkit lab --list`` is instant. A module may also declare ``AGREEMENT``:
outcome → where that outcome agrees with the published result and where not.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import torch

from attnkit.lab import placement
from attnkit.lab.report import VERDICT_MD, Verdict, verdict_markdown, write_index, write_verdict
from attnkit.runtime import describe_cpu, select_device

__all__ = ["CLAIMS", "Verdict", "claim_module", "publish_index", "run_claim", "write_index"]

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


def run_claim(
    name: str, *, out: Path, quick: bool = False, seed: int = 0, device: str = "auto"
) -> Verdict:
    """Run one experiment into ``out`` (created) on ``device`` (``"auto"``: a GPU when
    there is one, see :func:`attnkit.runtime.select_device`) and write its verdict
    files there."""
    module = claim_module(name)
    where = select_device(device)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with placement.running_on(where):
        verdict = module.run(out=out, quick=quick, seed=seed)
    verdict.seconds, verdict.quick, verdict.seed = time.perf_counter() - start, quick, seed
    _describe(verdict, module)
    verdict.machine = describe_cpu()
    if where.type == "cuda":
        verdict.machine += f" + {torch.cuda.get_device_name(where)}"
    write_verdict(verdict, out)
    return verdict


def _describe(verdict: Verdict, module) -> Verdict:
    """Set the claim's prose — the published result and how this outcome compares with
    it — from its module (declared text, no measured numbers)."""
    verdict.published = getattr(module, "PUBLISHED", "") or verdict.published
    verdict.agreement = getattr(module, "AGREEMENT", {}).get(verdict.outcome, "")
    return verdict


def publish_index(root: Path, names: list[str], *, index: Path | None = None) -> Path:
    """Write the index of the verdicts recorded under ``root`` (see
    :func:`~attnkit.lab.report.write_index`), with each claim's prose as its module
    states it now — also into each claim's ``verdict.md``; the numbers, and
    ``verdict.json``, stay those of the recorded runs."""

    def annotate(verdict: Verdict) -> Verdict:
        _describe(verdict, claim_module(verdict.name))
        (root / verdict.name / VERDICT_MD).write_text(verdict_markdown(verdict))
        return verdict

    return write_index(root, names, index=index, annotate=annotate)
