"""The command that runs a masked-language model: ``fill``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from attnkit.cli.options import add_run_dir
from attnkit.cli.parsing import positive_int
from attnkit.cli.status import EXIT_OK

if TYPE_CHECKING:
    from attnkit.cli.options import Commands

MASK = "[MASK]"  # attnkit.data.tokenizers.MASK (not imported: that would load torch)


def _texts(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for each text: the arguments, else each non-blank stdin line as
    it comes (``where`` names the line in an error)."""
    if args.text:
        for text in args.text:
            yield "", text
        return
    for number, line in enumerate(sys.stdin, 1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield f"line {number}: ", text


def _cmd_fill(args: argparse.Namespace) -> int:
    from attnkit.api import fill_mask, load_run
    from attnkit.families.base import token_label

    run = load_run(args.run_dir)
    for where, text in _texts(args):
        try:
            filled = fill_mask(run, text, top_k=args.top_k)
        except ValueError as exc:
            raise ValueError(f"{where}{exc}") from None
        best = text
        for mask in filled:
            best = best.replace(MASK, mask.candidates[0][0].strip() or MASK, 1)
        print(f"{text}  ->  {best}")
        for number, mask in enumerate(filled, 1):
            # a word token carries its space (BPE " Lord"): show the word; other tokens as labels
            candidates = ", ".join(
                f"{token.strip() or token_label(token)} {p:.3f}" for token, p in mask.candidates
            )
            print(f"  {MASK} {number}: {candidates}")
        sys.stdout.flush()
    return EXIT_OK


def add_fill(commands: Commands) -> None:
    fill = commands.add_parser(
        "fill",
        help="fill each [MASK] of the arguments, or of each line of stdin, with a "
        "masked-language model",
        description="Print the likeliest tokens, with their probabilities, for each [MASK] "
        'of a text: attnkit fill RUN_DIR "the [MASK] of the Lord". Several masks per '
        "text; without TEXT arguments, each line of stdin is a text.",
    )
    add_run_dir(fill)
    fill.add_argument("text", nargs="*", metavar="TEXT", help=f"a text with {MASK} in it")
    fill.add_argument(
        "--top-k", type=positive_int, default=5, metavar="K", help="candidates per mask"
    )
    fill.set_defaults(func=_cmd_fill)
