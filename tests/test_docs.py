"""The docs' Python examples run as written and print what the docs show.

Set ATTNKIT_UPDATE_DOCS=1 to rewrite the ```text blocks from a real run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def run_blocks(text: str) -> list[tuple[str, str, str]]:
    """Execute the python blocks in order; pair each text block that directly follows a
    python block with that block's output. Returns (expected, got, code) triples."""
    namespace: dict = {}
    previous, output, code, pairs = "", "", "", []
    for kind, body in BLOCK.findall(text):
        if kind == "python":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(body, "<docs>", "exec"), namespace)
            output, code = buffer.getvalue(), body
        elif kind == "text" and previous == "python":
            pairs.append((body, output, code))
        previous = kind
    return pairs


@pytest.mark.parametrize("page", ["attention.md", "reading.md", "../README.md"])
def test_doc_examples_print_what_the_page_shows(page):
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    pairs = run_blocks(text)
    assert pairs, f"{page} has no examples with output"
    if os.environ.get("ATTNKIT_UPDATE_DOCS"):
        for expected, got, _ in pairs:
            text = text.replace(f"```text\n{expected}```", f"```text\n{got}```", 1)
        path.write_text(text, encoding="utf-8")
        pairs = run_blocks(text)
    for expected, got, code in pairs:
        assert got.strip() == expected.strip(), f"{page}: the block\n{code}\nprinted\n{got}"
