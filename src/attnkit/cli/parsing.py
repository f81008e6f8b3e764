"""The parser every command uses, and the argument types its numeric options share.

Two promises of the command line live here: a usage mistake (an unknown option, a number
that means nothing) ends with one ``error: ...`` line, like every other user error; and
``--help`` shows the default of every option that has one. Each numeric option declares
what it accepts with one of the types below (``positive_int`` for a count of things,
``non_negative_float`` for a temperature, ...), so ``--last 0`` and ``--steps -5`` are
refused by argparse before any command runs, with a line saying what to pass.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from attnkit.cli.status import EXIT_USAGE

__all__ = [
    "CommandParser",
    "DefaultsFormatter",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "probability",
]


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to each option's help, unless the help already says its
    default or there is none to say (no value, a switch that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return text
        # argparse expands %-formats in help: a literal % in a default must be doubled.
        return f"{text} (default: {str(default).replace('%', '%%')})".lstrip()


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``error: ...``, status 2) and
    whose help shows every default; sub-parsers (the commands) are of the same class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse's hook: print usage + message, exit 2
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


def _number_type(
    name: str, convert: Callable[[str], float], accepts: Callable[[float], bool], says: str
) -> Callable[[str], float]:
    """An argparse ``type`` that converts a string and refuses values ``accepts`` rejects,
    with a message saying what the option takes (``says``)."""
    what = "a whole number" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: pass {says}") from None
        if not math.isfinite(value) or not accepts(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range: pass {says}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


positive_int = _number_type("positive_int", int, lambda v: v >= 1, "a whole number >= 1")
non_negative_int = _number_type("non_negative_int", int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number_type("positive_float", float, lambda v: v > 0, "a number > 0")
non_negative_float = _number_type("non_negative_float", float, lambda v: v >= 0, "a number >= 0")
probability = _number_type("probability", float, lambda v: 0 < v <= 1, "a number in (0, 1]")
