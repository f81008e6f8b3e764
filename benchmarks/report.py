"""Run the cases, keep every number in a JSON file, and render the markdown table."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from attnkit.runtime import describe_cpu
from benchmarks.cases import Case
from benchmarks.harness import gemm_peak_gflops, measure_peak_memory, run_interleaved

__all__ = ["render_table", "run_cases", "update_docs", "write_results"]

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _machine() -> dict[str, Any]:
    try:
        import transformers

        hf = transformers.__version__
    except ImportError:
        hf = None
    return {
        "cpu": describe_cpu().rsplit(", ", 1)[0],
        "cores_used": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": hf,
    }


def run_cases(
    cases: list[Case],
    *,
    threads: int,
    rounds: int | None,
    max_foreign_cores: float,
    memory: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Measure ``cases`` one after another; return everything as plain data."""
    peak_before = gemm_peak_gflops()
    log(f"fp32 GEMM peak: {peak_before:.0f} GFLOP/s ({threads} threads)")
    out: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "threads": threads,
        "max_foreign_cores": max_foreign_cores,
        "cases": {},
    }
    for case in cases:
        log(f"== {case.name}: {case.description}")
        impls = {name: build() for name, build in case.impls.items()}
        timing = run_interleaved(
            impls,
            reference=next(iter(impls)),  # attnkit, or a variant of it, comes first
            rounds=rounds or case.rounds,
            warmup_calls=case.warmup_calls,
            max_foreign_cores=max_foreign_cores,
        )
        del impls
        entry: dict[str, Any] = {
            "description": case.description,
            "unit": case.unit,
            "impls": {},
            "ratios": {},
            "foreign_cores_max": max(timing.foreign_cores),
            "rejected_rounds": timing.rejected_rounds,
            "contended": timing.contended,
        }
        for name, result in timing.impls.items():
            row: dict[str, Any] = {"per_round": result.per_round, "median": result.median}
            if case.flops_per_unit:
                row["gflops"] = result.median * case.flops_per_unit / 1e9
            if memory and case.memory:
                row["peak_mib"] = measure_peak_memory(case.name, name, threads)
            entry["impls"][name] = row
            log(f"   {name:22s} {result.median:10.1f} {case.unit}")
        for key, values in timing.ratios.items():
            reference, peer = key.split("/", 1)
            ratio = statistics.median(values)
            entry["ratios"][peer] = {
                "median": ratio,
                "min": min(values),
                "max": max(values),
                "target": case.targets.get(peer),
            }
            target = case.targets.get(peer)
            verdict = "" if target is None else ("  ok" if ratio >= target else f"  < {target}")
            log(f"   {reference} / {peer:22s} ×{ratio:.2f}{verdict}")
        out["cases"][case.name] = entry
    peak_after = gemm_peak_gflops()
    out["gemm_peak_gflops"] = max(peak_before, peak_after)
    out["gemm_peak_runs"] = [peak_before, peak_after]
    return out


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write the JSON atomically (a crash leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(results, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, path)


def render_table(results: dict[str, Any]) -> str:
    """The markdown table of one run (what ``docs/benchmarks.md`` shows)."""
    peak = results["gemm_peak_gflops"]
    machine = results["machine"]
    lines = [
        f"Run of {results['date']} on {machine['cpu']}, {results['threads']} threads, "
        f"torch {machine['torch']}, transformers {machine['transformers']}; "
        f"fp32 GEMM peak measured in the same run: {peak:.0f} GFLOP/s.",
        "",
        "| case | implementation | speed | attnkit ÷ it (median, range) | target | "
        "GFLOP/s (% of peak) | peak memory | other CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, case in results["cases"].items():
        foreign = f"{case['foreign_cores_max']:.2f} cores"
        if case["contended"]:
            foreign += " (contended)"
        for impl, row in case["impls"].items():
            ratio = case["ratios"].get(impl)
            ratio_text, target_text = "", ""
            if ratio:
                ratio_text = f"×{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})"
                if ratio["target"] is not None:
                    met = "met" if ratio["median"] >= ratio["target"] else "**missed**"
                    target_text = f"≥ ×{ratio['target']:g}: {met}"
            gflops = row.get("gflops")
            gflops_text = "" if gflops is None else f"{gflops:.0f} ({100 * gflops / peak:.0f} %)"
            mem = row.get("peak_mib")
            mem_text = "" if mem is None else f"{mem:.0f} MiB"
            lines.append(
                f"| {name} | {impl} | {row['median']:,.0f} {case['unit']} | {ratio_text} | "
                f"{target_text} | {gflops_text} | {mem_text} | {foreign} |"
            )
    return "\n".join(lines)


def update_docs(results: dict[str, Any], path: Path) -> None:
    """Replace the generated table in ``path`` (between the markers), or append it."""
    table = f"{BEGIN}\n{render_table(results)}\n{END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + table + rest.split(END, 1)[1]
    else:
        text = (
            text.rstrip("\n") + "\n\n## Speed against the peers (`make bench`)\n\n" + table + "\n"
        )
    path.write_text(text)
