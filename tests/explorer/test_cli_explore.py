"""``attnkit explore`` from the command line: a bad run directory is one line at start,
the server prints its URL, answers on 127.0.0.1 and stops cleanly on Ctrl-C, and
``--export`` writes one self-contained HTML file."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from attnkit.cli import main

pytest.importorskip("uvicorn", reason="needs the explore extra (make venv)")


def test_a_bad_run_directory_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing" in err[0]
    (tmp_path / "file.txt").write_text("x")
    assert main(["explore", str(tmp_path / "file.txt")]) == 2
    assert "is a file, not a run directory" in capsys.readouterr().err


def test_export_needs_a_text(tiny_runs, tmp_path, capsys):
    assert main(["explore", str(tiny_runs["lm"]), "--export", str(tmp_path / "p.html")]) == 2
    assert "--text" in capsys.readouterr().err


def test_export_writes_one_self_contained_page(tiny_runs, tmp_path, capsys):
    page = tmp_path / "page.html"
    argv = ["explore", str(tiny_runs["lm"]), str(tiny_runs["translator"]), "--export", str(page)]
    assert main([*argv, "--text", "hefig"]) == 0  # characters both vocabularies hold
    assert "wrote" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    # nothing is fetched: no external script, style, font or image
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert 'src="static/' not in html and 'href="static/' not in html
    blob = re.search(
        r'<script id="attnkit-data" type="application/json">(.*?)</script>', html, re.S
    )
    data = json.loads(blob.group(1))
    assert [r["id"] for r in data["runs"]["runs"]] == ["lm", "translator"]
    keys = list(data["responses"])
    assert any(k.startswith("/api/attention|") for k in keys)
    assert any(k.startswith("/api/translate|") for k in keys)
    assert any(k.startswith("/api/worked|") for k in keys)


def test_server_prints_its_url_answers_and_stops_on_ctrl_c(tiny_runs):
    process = subprocess.Popen(
        [sys.executable, "-m", "attnkit", "explore", str(tiny_runs["lm"]), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            assert json.load(response)["runs"][0]["id"] == "lm"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"attnkit explorer" in response.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "explorer stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_export_leaves_out_a_run_that_cannot_read_the_text(tiny_runs, tmp_path, capsys):
    page = tmp_path / "page.html"
    argv = ["explore", str(tiny_runs["lm"]), str(tiny_runs["translator"]), "--export", str(page)]
    assert main([*argv, "--text", "ROMEO"]) == 0  # capitals: the reverse task has none
    err = capsys.readouterr().err
    assert "warning: translator is left out of the page: text: unknown character 'R'" in err
    assert main([*argv[:2], *argv[3:], "--text", "€"]) == 2
    assert "error: text: unknown character '€'" in capsys.readouterr().err
