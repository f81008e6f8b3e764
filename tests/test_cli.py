"""End-to-end tests of the command-line interface (in-process and as a subprocess)."""

import contextlib
import importlib.metadata
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import attnkit
from attnkit.cli import main
from attnkit.cli.demo import DEMO_FIGURES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_version_prints_package_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"attnkit {attnkit.__version__}"


def test_version_matches_installed_metadata():
    # pyproject.toml holds a static version; it must agree with attnkit.__version__
    assert importlib.metadata.version("attnkit") == attnkit.__version__


def test_info_prints_environment(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert lines["attnkit"] == attnkit.__version__
    assert lines["python"] == ".".join(map(str, sys.version_info[:3]))
    assert lines["device"] in {"cpu", "cuda", "mps"}
    assert lines["cuda_available"] in {"True", "False"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run `attnkit demo` once (it trains a small translator: ~10 s)."""
    out_dir = tmp_path_factory.mktemp("demo") / "figs" / "nested"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["demo", "--out", str(out_dir)])
    return status, buffer.getvalue(), out_dir


def _line(out: str, start: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith(start))


def test_demo_prints_soft_lookup(demo_run):
    status, out, _ = demo_run
    assert status == 0
    weights = {w: float(x) for w, x in re.findall(r"(\w+)=([\d.]+)", _line(out, "softmax weights"))}
    assert set(weights) == {"la", "casa", "roja"}
    assert weights["casa"] > 0.99
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    # scaled scores are the raw scores divided by sqrt(d_k) = sqrt(3)
    raw = [float(x) for x in re.findall(r"=(-?[\d.]+)", _line(out, "raw scores"))]
    scaled = [float(x) for x in re.findall(r"=(-?[\d.]+)", _line(out, "scaled scores"))[-3:]]
    assert scaled == pytest.approx([r / 3**0.5 for r in raw], abs=1e-4)
    output = re.search(r"output .*= \[(.*)\]$", out, re.M).group(1)
    value = re.search(r"value of 'casa' .*= \[(.*)\]$", out, re.M).group(1)
    assert [float(x) for x in output.split(",")] == pytest.approx(
        [float(x) for x in value.split(",")], abs=0.02
    )


def test_demo_translates_held_out_phrases(demo_run):
    _, out, _ = demo_run
    assert re.search(r"la casa roja\s+-> the red house\s+ok", out)
    correct, total = map(int, re.search(r"exact: (\d+)/(\d+)", out).groups())
    assert total >= 10
    assert correct / total >= 0.9


def test_demo_writes_its_figures(demo_run):
    _, out, out_dir = demo_run
    for name in DEMO_FIGURES:
        figure = out_dir / name
        assert f"figure: {figure}" in out
        data = figure.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 1000
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(DEMO_FIGURES)  # no temp files


def test_demo_bad_out_is_one_line_error_exit_2(tmp_path, capsys):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    assert main(["demo", "--out", str(not_a_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: attnkit" in capsys.readouterr().out


def test_python_dash_m_attnkit_version():
    result = subprocess.run(
        [sys.executable, "-m", "attnkit", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"attnkit {attnkit.__version__}"
