"""The library's error messages in the command line's words.

:mod:`attnkit.api` names its own parameters and functions (``pass sliding_window=True``,
``use classify()``); a command's options carry the same names with dashes. Before an
error is printed, this rewrites each ``name=value`` of the command's options as the
option (``--sliding-window``, ``--last 9``) and each API function as its command
(``classify()`` as ``attnkit classify``, in backquotes). Dotted config keys
(``model.max_len=32``) stay as they are: ``--set`` takes them so.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["COMMAND_OF", "in_cli_terms", "option_flags"]

# The command that does what each API function does.
COMMAND_OF = {
    "train": "attnkit train",
    "generate": "attnkit generate",
    "translate": "attnkit translate",
    "classify": "attnkit classify",
    "caption": "attnkit caption",
    "evaluate": "attnkit evaluate",
    "fill_mask": "attnkit fill",
    "embed": "attnkit embed",
    "average_checkpoints": "attnkit average",
    "plot_run_attention": "attnkit attention --text",
    "plot_image_attention": "attnkit attention --image",
    "write_vision_samples": "attnkit vision-sample",
    "run_info": "attnkit info",
}
_FUNCTION = re.compile(r"\b(" + "|".join(COMMAND_OF) + r")\(\)")
# name=value, not part of a dotted key; the value is quoted, or runs to a space or , ; : )
_SETTING = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;:)]*)")


def option_flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """A parser's options by parameter name (``dest``), positionals and hidden aliases (an
    old spelling kept for scripts) left out."""
    # argparse has no public list of a parser's arguments; `_actions` is the one it keeps.
    return {
        action.dest: action
        for action in parser._actions
        if action.option_strings and action.help is not argparse.SUPPRESS
    }


def in_cli_terms(message: str, options: dict[str, argparse.Action]) -> str:
    """``message`` with API parameters written as the command's ``options`` and API
    functions as commands.

    Examples:
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument("--sliding-window", action="store_true")
        >>> _ = parser.add_argument("--last", type=int)
        >>> in_cli_terms("fewer than last=9; or pass sliding_window=True",
        ...              option_flags(parser))
        'fewer than --last 9; or pass --sliding-window'
        >>> in_cli_terms("use classify() or model.max_len=32", {})
        'use `attnkit classify` or model.max_len=32'
    """

    def option(match: re.Match[str]) -> str:
        name, value = match.groups()
        action = options.get(name)
        if action is None:
            return match.group(0)
        if isinstance(action, argparse.BooleanOptionalAction):  # --x / --no-x
            return action.option_strings[value == "False"]
        flag = action.option_strings[-1]
        # A switch (--sliding-window) takes no value; `text=` alone names the option.
        return flag if action.nargs == 0 or value in ("", "True") else f"{flag} {value}"

    message = _FUNCTION.sub(lambda match: f"`{COMMAND_OF[match.group(1)]}`", message)
    return _SETTING.sub(option, message)
