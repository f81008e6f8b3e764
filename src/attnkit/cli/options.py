"""Arguments and options that several commands share, each declared once here.

A command adds the ones it takes with these functions, so ``--beam`` means the same thing,
with the same help, wherever it appears; only the default, and a prefix naming the runs an
option applies to, may differ between commands.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]
    """What ``ArgumentParser.add_subparsers`` returns: each command adds its parser to it."""


def add_run_dir(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """The positional ``RUN_DIR``: a training run's directory (see ``attnkit train --out``)."""
    parser.add_argument("run_dir", nargs="?" if optional else None, metavar="RUN_DIR")


def add_images(parser: argparse.ArgumentParser) -> None:
    """One or more positional image files."""
    parser.add_argument("images", nargs="+", metavar="IMAGE.png")


def add_beam_options(parser: argparse.ArgumentParser, *, beam: int, prefix: str = "") -> None:
    """``--beam`` and ``--length-penalty``: beam-search decoding of translators and captioners.

    Args:
        beam: the command's default beam size (1 = greedy decoding).
        prefix: put before each help text, to say which runs the options apply to.
    """
    greedy = " = greedy" if beam == 1 else ""
    parser.add_argument(
        "--beam",
        type=int,
        default=beam,
        metavar="N",
        help=f"{prefix}beam size (default {beam}{greedy})",
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=0.6,
        metavar="A",
        help=f"{prefix}GNMT length penalty alpha (default 0.6)",
    )


def add_int8_option(parser: argparse.ArgumentParser) -> None:
    """``--int8``: run the loaded model with int8 linear layers."""
    parser.add_argument(
        "--int8",
        action="store_true",
        help="quantize the linear layers to int8 (CPU): faster, slightly less accurate",
    )


def add_seed_option(parser: argparse.ArgumentParser, *, default: int | None = 0) -> None:
    """``--seed``: the random seed; ``default=None`` leaves the generator unseeded."""
    if default is None:
        help_text = "seed for reproducible samples (default: none)"
    else:
        help_text = f"random seed (default: {default})"
    parser.add_argument("--seed", type=int, default=default, help=help_text)


def add_split_option(parser: argparse.ArgumentParser, *, default: str, prefix: str = "") -> None:
    """``--split``: which of a run's held-out splits to use."""
    parser.add_argument(
        "--split",
        default=default,
        choices=("valid", "test"),
        help=f"{prefix}which held-out split (default {default})",
    )
