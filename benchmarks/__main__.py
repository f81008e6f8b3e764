"""``python -m benchmarks`` (``make bench``): attnkit against its peers, side by side.

    python -m benchmarks                       # every case, results + docs table
    python -m benchmarks --cases beam-4 --rounds 3 --no-docs
    python -m benchmarks --list
    python -m benchmarks --only engines --no-docs  # CTranslate2 / ONNX Runtime cases

Writes ``benchmarks/results/<date>.json`` and replaces the generated table in
``docs/benchmarks.md`` (between its ``bench:begin`` / ``bench:end`` markers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cases", nargs="+", help="case names (default: all)")
    parser.add_argument(
        "--only", metavar="GROUP", help="only the cases of this group (engines: CTranslate2, ONNX)"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--rounds", type=int, help="rounds per case (default: the case's own)")
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="torch.set_num_threads (default: the cores this process may use)",
    )
    parser.add_argument(
        "--max-foreign-cores",
        type=float,
        default=0.25,
        help="discard a round in which other processes used more CPU than this (in cores)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip peak-memory runs")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--out", type=Path, help="results JSON (default benchmarks/results/DATE.json)"
    )
    parser.add_argument("--memory-child", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    # Imported after the thread count is fixed; the peers come from the bench extra.
    from benchmarks.cases import CASES
    from benchmarks.harness import peak_rss_growth_mib

    if args.memory_child:
        case, impl = args.memory_child
        built = CASES[case].impls[impl]()
        peak = peak_rss_growth_mib(built.call, calls=2)
        print(json.dumps({"peak_mib": peak}))
        return 0
    if args.list:
        for case in CASES.values():
            print(f"{case.name:24s} {case.description}")
        return 0
    if args.only:
        args.cases = [name for name, case in CASES.items() if case.group == args.only]
        if not args.cases:
            groups = sorted({case.group for case in CASES.values() if case.group})
            print(f"error: no case in group {args.only!r}; groups: {groups}", file=sys.stderr)
            return 2
    unknown = sorted(set(args.cases or []) - set(CASES))
    if unknown:
        print(f"error: unknown case(s) {unknown}; choose from {sorted(CASES)}", file=sys.stderr)
        return 2
    try:
        import transformers  # noqa: F401
    except ImportError:
        print(
            "error: the peers need Hugging Face transformers; run `make bench` (it installs "
            "the bench extra) or `pip install -e '.[bench]'`",
            file=sys.stderr,
        )
        return 2

    from benchmarks.report import run_cases, update_docs, write_results

    results = run_cases(
        [CASES[name] for name in (args.cases or CASES)],
        threads=args.threads,
        rounds=args.rounds,
        max_foreign_cores=args.max_foreign_cores,
        memory=not args.no_memory,
        log=lambda line: print(line, flush=True),
    )
    out = args.out or ROOT / "benchmarks" / "results" / f"{dt.date.today().isoformat()}.json"
    write_results(results, out)
    print(f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if not args.no_docs:
        update_docs(results, ROOT / "docs" / "benchmarks.md")
        print("table: docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
