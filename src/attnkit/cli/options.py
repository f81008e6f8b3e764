"""Arguments and options that several commands share, each declared once here.

A command adds the ones it takes with these functions, so ``--beam`` means the same thing,
with the same help and the same default, wherever it appears; only a prefix naming the runs
an option applies to may differ between commands. Numbers are checked by the shared types
of :mod:`attnkit.cli.parsing`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from attnkit.cli.parsing import non_negative_float, non_negative_int, positive_int

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]
    """What ``ArgumentParser.add_subparsers`` returns: each command adds its parser to it."""


BEAM = 4
"""The default beam size of every command that decodes: attnkit.api.BEAM (the CLI does not
import the API, and torch with it, before a command runs; a test holds the two equal)."""


def _run_dir(text: str) -> str:
    """A ``RUN_DIR`` argument: a file there is a mistake worth naming before anything loads."""
    if Path(text).is_file():
        raise argparse.ArgumentTypeError(
            f"{text} is a file, not a run directory: give the folder `attnkit train --out` wrote"
        )
    return text


def add_run_dir(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """The positional ``RUN_DIR``: a training run's directory (see ``attnkit train --out``)."""
    parser.add_argument(
        "run_dir",
        nargs="?" if optional else None,
        type=_run_dir,
        metavar="RUN_DIR",
        help="a training run's directory: the folder `attnkit train --out` wrote"
        + (" (optional)" if optional else ""),
    )


def add_images(parser: argparse.ArgumentParser) -> None:
    """One or more positional image files."""
    parser.add_argument("images", nargs="+", metavar="IMAGE.png", help="PNG or JPEG files")


def add_beam_options(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """``--beam`` and ``--length-penalty``: beam-search decoding of translators and captioners.

    Args:
        prefix: put before each help text, to say which runs the options apply to.
    """
    parser.add_argument(
        "--beam",
        type=positive_int,
        default=BEAM,
        metavar="N",
        help=f"{prefix}hypotheses kept per sentence (1 = greedy decoding; at most the "
        "vocabulary size)",
    )
    parser.add_argument(
        "--length-penalty",
        type=non_negative_float,
        default=0.6,
        metavar="A",
        help=f"{prefix}beam search ranks hypotheses by log P / ((5 + length) / 6)^A (GNMT): "
        "0 ranks by probability alone, which favours short outputs; larger A favours longer ones",
    )


def add_max_new_tokens(parser: argparse.ArgumentParser, *, default: int | None, says: str) -> None:
    """``--max-new-tokens``: the most tokens a command may generate per text (``--max-len``
    is its old spelling on ``translate``, still accepted but not shown).

    Args:
        default: the command's default (``None``: decided per input, as ``says`` tells).
        says: what the default means, for the help.
    """
    parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=default,
        metavar="N",
        help=f"the most tokens to generate per text (default: {says})",
    )
    parser.add_argument(
        "--max-len",
        dest="max_new_tokens",
        type=positive_int,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


def add_int8_option(parser: argparse.ArgumentParser) -> None:
    """``--int8``: run the loaded model with int8 linear layers."""
    parser.add_argument(
        "--int8",
        action="store_true",
        help="quantize the linear layers to int8 (CPU): faster, slightly less accurate",
    )


def add_engine_option(parser: argparse.ArgumentParser, engines: tuple[str, ...]) -> None:
    """``--engine``: run the model on PyTorch or on an inference engine (the
    ``attnkit[engines]`` extra); with ``--int8`` the engine quantizes it."""
    parser.add_argument(
        "--engine",
        choices=engines,
        default="pytorch",
        help=f"what runs the model: {' or '.join(engines)} (default pytorch; the engines "
        "are the extra attnkit[engines]; --int8 then quantizes in the engine)",
    )


def add_seed_option(parser: argparse.ArgumentParser, *, default: int | None = 0) -> None:
    """``--seed``: the random seed; ``default=None`` leaves the generator unseeded."""
    if default is None:
        help_text = "seed for reproducible samples (default: none)"
    else:
        help_text = f"random seed (default: {default})"
    parser.add_argument("--seed", type=non_negative_int, default=default, help=help_text)


def add_split_option(parser: argparse.ArgumentParser, *, default: str, prefix: str = "") -> None:
    """``--split``: which of a run's held-out splits to use."""
    parser.add_argument(
        "--split",
        default=default,
        choices=("valid", "test"),
        help=f"{prefix}which held-out split to score (default {default})",
    )


def add_checkpoint_option(parser: argparse.ArgumentParser, *, default: str = "best") -> None:
    """``--checkpoint STEP``: use the run's checkpoint of that step instead of its ``default``
    one (``best`` or ``latest``), e.g. to get past a damaged newest checkpoint."""
    fallback = "the best, else the latest" if default == "best" else "the latest"
    parser.add_argument(
        "--checkpoint",
        type=int,
        metavar="STEP",
        help=f"use the checkpoint saved at this step (default: {fallback}); "
        "`attnkit info RUN_DIR` and RUN_DIR/checkpoints/ show the steps kept",
    )
