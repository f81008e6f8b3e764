"""``attnkit lab``: run the experiments that test claims of the notes (see ``attnkit.lab``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.options import add_seed_option
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands


def _cmd_lab(args: argparse.Namespace) -> int:
    from attnkit.lab import CLAIMS, publish_index, run_claim
    from attnkit.runtime import select_device

    if args.list or args.claim is None:
        width = max(map(len, CLAIMS))
        for name, description in CLAIMS.items():
            print(f"{name:{width}s}  {description}")
        if args.claim is None and not args.list:
            print("run one with: attnkit lab NAME [--quick] [--out DIR]   (or: attnkit lab all)")
        return EXIT_OK
    names = list(CLAIMS) if args.claim == "all" else [args.claim]
    if args.claim != "all" and args.claim not in CLAIMS:
        raise ValueError(f"unknown lab claim {args.claim!r}; choose one of: {', '.join(CLAIMS)}")
    select_device(args.device)  # an unknown or absent device: one line before any work
    root = Path(args.out) if args.out else Path("runs/lab")
    index = Path(args.index) if args.index else None
    if args.index_only:
        if args.claim != "all":
            raise ValueError(
                "--index-only rewrites the index of 'all'; run: attnkit lab all --index-only"
            )
        if not root.is_dir():
            raise ValueError(
                f"{root} holds no recorded lab runs; record them with: attnkit lab all --out {root}"
            )
        print(f"index: {publish_index(root, names, index=index)}")
        return EXIT_OK
    failed = []
    for name in names:
        out = root / name if args.claim == "all" or not args.out else root
        print(f"== {name}: {CLAIMS[name]}", flush=True)
        if args.claim != "all":
            verdict = run_claim(name, out=out, quick=args.quick, seed=args.seed, device=args.device)
        else:  # one broken experiment must not cost the others' results
            try:
                verdict = run_claim(
                    name, out=out, quick=args.quick, seed=args.seed, device=args.device
                )
            except (ValueError, RuntimeError, OSError) as exc:
                print(f"   error: {str(exc).splitlines()[0]}", file=sys.stderr)
                failed.append(name)
                continue
        print(f"   {verdict.outcome} ({verdict.seconds:.0f} s): {out / 'verdict.md'}")
    if args.claim == "all":
        print(f"index: {publish_index(root, names, index=index)}")
    if failed:
        raise RuntimeError(f"{len(failed)} experiment(s) failed: {', '.join(failed)}")
    return EXIT_OK


def add_lab(commands: Commands) -> None:
    lab = commands.add_parser(
        "lab", help="run an experiment that tests a claim of the notes (figure + verdict)"
    )
    lab.add_argument("claim", nargs="?", metavar="CLAIM", help="a claim name, or 'all'")
    lab.add_argument("--list", action="store_true", help="list the claims")
    lab.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    lab.add_argument(
        "--out", metavar="DIR", help="output folder (default: runs/lab/CLAIM, or runs/lab)"
    )
    add_seed_option(lab)
    lab.add_argument(
        "--device",
        default="auto",
        help="where to train: auto (a GPU when there is one), cpu, cuda, cuda:N or mps "
        "(default: %(default)s)",
    )
    lab.add_argument(
        "--index",
        metavar="FILE.md",
        help="with 'all': where to write the index (default: DIR/README.md)",
    )
    lab.add_argument(
        "--index-only",
        action="store_true",
        help="with 'all': rewrite the index from the verdicts already in DIR, training nothing "
        "(after re-running one claim into DIR/CLAIM)",
    )
    lab.set_defaults(func=_cmd_lab)
