"""Commands that run a trained text model on new text: ``generate`` and ``translate``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from attnkit.cli.options import (
    add_beam_options,
    add_checkpoint_option,
    add_engine_option,
    add_int8_option,
    add_max_new_tokens,
    add_run_dir,
    add_seed_option,
)
from attnkit.cli.parsing import non_negative_float, positive_int, probability
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands


def _engine_options(args: argparse.Namespace) -> tuple[str, bool, str | None]:
    """``--engine`` and ``--int8`` as load_run and the API take them: the engine, int8 in
    PyTorch, int8 in the engine (which converts the float32 model itself)."""
    if args.engine == "pytorch":
        return args.engine, args.int8, None
    return args.engine, False, "int8" if args.int8 else None


def _cmd_generate(args: argparse.Namespace) -> int:
    from attnkit.api import generate, load_run

    engine, pytorch_int8, quantization = _engine_options(args)
    run = load_run(args.run_dir, int8=pytorch_int8, checkpoint=args.checkpoint)
    # generate() checks everything before it returns: a mistake never follows the prompt
    pieces = generate(
        run,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        sliding_window=args.sliding_window,
        engine=engine,
        quantization=quantization,
    )
    sys.stdout.write(args.prompt)
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return EXIT_OK


def add_generate(commands: Commands) -> None:
    generate = commands.add_parser("generate", help="continue a prompt with a trained LM")
    add_run_dir(generate)
    generate.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    add_max_new_tokens(generate, default=500, says="500")
    generate.add_argument(
        "--temperature",
        type=non_negative_float,
        default=0.8,
        metavar="T",
        help="0 = greedy; higher = more varied (default 0.8)",
    )
    generate.add_argument(
        "--top-k", type=positive_int, metavar="K", help="sample from the K likeliest tokens"
    )
    generate.add_argument(
        "--top-p",
        type=probability,
        metavar="P",
        help="nucleus sampling: from the likeliest tokens that hold probability P",
    )
    add_seed_option(generate, default=None)
    generate.add_argument(
        "--sliding-window",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with learned positions, go past the model's max_len by continuing from its "
        "last max_len/2 tokens; --no-sliding-window refuses to go past it instead",
    )
    add_int8_option(generate)
    add_engine_option(generate, ("pytorch", "ctranslate2"))
    add_checkpoint_option(generate)
    generate.set_defaults(func=_cmd_generate)


def _cmd_translate(args: argparse.Namespace) -> int:
    from attnkit.api import load_run, translate

    engine, pytorch_int8, quantization = _engine_options(args)
    run = load_run(args.run_dir, int8=pytorch_int8, checkpoint=args.checkpoint)
    lines = args.text if args.text else sys.stdin.read().splitlines()
    results = translate(
        run,
        lines,
        beam=args.beam,
        length_penalty=args.length_penalty,
        n_best=args.n_best,
        max_new_tokens=args.max_new_tokens,
        engine=engine,
        quantization=quantization,
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
    translate.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="sentences to translate (default: each line of stdin)",
    )
    add_beam_options(translate)
    translate.add_argument(
        "--n-best",
        type=positive_int,
        default=1,
        metavar="K",
        help="print the K best translations, tab-separated (at most --beam)",
    )
    add_max_new_tokens(translate, default=None, says="1.5 × the source's tokens + 10")
    add_int8_option(translate)
    add_engine_option(translate, ("pytorch", "ctranslate2"))
    add_checkpoint_option(translate)
    translate.set_defaults(func=_cmd_translate)
