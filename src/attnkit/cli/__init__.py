"""Command-line interface: ``attnkit <command>``. The only package of attnkit that prints.

Errors a user can cause (a bad path, a bad value) end with one ``error: ...`` line on
stderr and exit status 2, never a traceback (set ``ATTNKIT_DEBUG=1`` to see one); Ctrl-C
ends with status 130. The library's messages name its parameters and functions
(``last=9``, ``classify()``); ``wording`` prints them in the command's words
(``--last 9``, ``attnkit classify``).

Each command's handler and its sub-parser live together, by concern: ``runs`` (train and
inspect a run), ``text``, ``vision``, ``lab``, ``demo``; options that several commands take
are declared once in ``options``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from attnkit import __version__
from attnkit.cli import demo, explore, fill, interop, lab, runs, text, vision
from attnkit.cli.parsing import CommandParser
from attnkit.cli.status import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from attnkit.cli.wording import in_cli_terms, option_flags

__all__ = ["build_parser", "main"]

# In the order `attnkit --help` lists them.
_COMMANDS = (
    runs.add_train,
    text.add_generate,
    runs.add_evaluate,
    text.add_translate,
    fill.add_fill,
    interop.add_embed,
    runs.add_average,
    runs.add_attention,
    explore.add_explore,
    vision.add_classify,
    vision.add_caption,
    vision.add_vision_sample,
    lab.add_lab,
    runs.add_plot,
    runs.add_info,
    interop.add_import_hf,
    interop.add_export,
    demo.add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per command."""
    # CommandParser: one-line usage errors and every default in --help, commands included
    parser = CommandParser(
        prog="attnkit",
        description="attnkit: Transformer networks on PyTorch, built to be read and run.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in _COMMANDS:
        add_command(commands)
    for command in commands.choices.values():
        # so that an error can be worded in the command's own options (cli.wording)
        command.set_defaults(options=option_flags(command))
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None, options=None):
    """Warnings reach the user as one line, without the source location, in the words of
    the command's ``options`` once they are known."""
    print(f"warning: {in_cli_terms(str(message), options or {})}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    warnings.showwarning = _show_warning
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # `translate RUN --beam 5 TEXT ...`: argparse leaves texts after options over
        texts_last = args.command in ("translate", "fill", "embed")
        if extra and texts_last and not any(e.startswith("-") for e in extra):
            args.text = [*args.text, *extra]
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.version:
        print(f"attnkit {__version__}")
        return EXIT_OK
    warnings.showwarning = functools.partial(_show_warning, options=getattr(args, "options", {}))
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`attnkit info RUN | head`): nothing more to say. Point
        # stdout at /dev/null so that Python's flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        if os.environ.get("ATTNKIT_DEBUG"):
            raise  # a full traceback, for bug reports
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        message = in_cli_terms(message, args.options)
        print(
            f"error: {message.splitlines()[0] if message else type(exc).__name__}", file=sys.stderr
        )
        return EXIT_USAGE
