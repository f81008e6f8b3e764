"""Commands that run a trained text model on new text: ``generate`` and ``translate``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from attnkit.cli.options import add_beam_options, add_int8_option, add_run_dir, add_seed_option
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands


def _cmd_generate(args: argparse.Namespace) -> int:
    from attnkit.api import generate, load_run

    run = load_run(args.run_dir, int8=args.int8)
    sys.stdout.write(args.prompt)
    for piece in generate(
        run,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        sliding_window=args.sliding_window,
    ):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return EXIT_OK


def add_generate(commands: Commands) -> None:
    generate = commands.add_parser("generate", help="continue a prompt with a trained LM")
    add_run_dir(generate)
    generate.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    generate.add_argument("--max-new-tokens", type=int, default=500, metavar="N")
    generate.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="T",
        help="0 = greedy; higher = more varied (default 0.8)",
    )
    generate.add_argument("--top-k", type=int, metavar="K", help="sample from the K likeliest")
    generate.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling")
    add_seed_option(generate, default=None)
    generate.add_argument(
        "--sliding-window",
        action="store_true",
        help="with learned positions, go past max_len by continuing from the last max_len/2 tokens",
    )
    add_int8_option(generate)
    generate.set_defaults(func=_cmd_generate)


def _cmd_translate(args: argparse.Namespace) -> int:
    from attnkit.api import load_run, translate

    run = load_run(args.run_dir, int8=args.int8)
    lines = args.text if args.text else sys.stdin.read().splitlines()
    results = translate(
        run,
        lines,
        beam=args.beam,
        length_penalty=args.length_penalty,
        n_best=args.n_best,
        max_len=args.max_len,
    )
    for hypotheses in results:
        print("\t".join(hypotheses) if args.n_best > 1 else hypotheses[0])
    return EXIT_OK


def add_translate(commands: Commands) -> None:
    translate = commands.add_parser(
        "translate", help="translate the arguments, or each line of stdin"
    )
    add_run_dir(translate)
    # main() also appends texts that argparse leaves over after an option
    translate.add_argument("text", nargs="*", metavar="TEXT")
    add_beam_options(translate, beam=4)
    translate.add_argument(
        "--n-best",
        type=int,
        default=1,
        metavar="K",
        help="print the K best translations, tab-separated",
    )
    translate.add_argument("--max-len", type=int, metavar="N", help="longest output in tokens")
    add_int8_option(translate)
    translate.set_defaults(func=_cmd_translate)
