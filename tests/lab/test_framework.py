"""The lab's registry, verdict files, index and command line."""

from __future__ import annotations

import json

import pytest

from attnkit.cli import main
from attnkit.lab import CLAIMS, claim_module
from attnkit.lab.report import Verdict, read_verdict, write_index, write_verdict

ISSUE_ORDER = [
    "scaling", "permutation", "positions", "masking", "heads", "layernorm", "residual",
    "qkv", "alignment", "long-range", "steps", "parallel", "gradients", "bottleneck",
    "path-length",
]  # fmt: skip


def test_every_claim_of_the_notes_is_registered_in_order_and_has_a_runner():
    assert list(CLAIMS)[:15] == ISSUE_ORDER
    for name in CLAIMS:
        assert callable(claim_module(name).run), name


def test_unknown_claim_is_a_value_error_listing_the_claims():
    with pytest.raises(ValueError, match="unknown lab claim 'nope'; choose one of: scaling"):
        claim_module("nope")


def _verdict(name: str, holds: bool | None) -> Verdict:
    return Verdict(
        name=name,
        title="a title",
        claim="the notes say so",
        holds=holds,
        summary="measured **3.5** against 1.0",
        columns=["condition", "value"],
        rows=[["a", 3.5], ["b", float("nan")]],
        figure="fig.png",
        seconds=12.0,
        seed=3,
    )


def test_verdict_files_round_trip_and_the_index_collects_them(tmp_path):
    for name, holds in (("scaling", True), ("heads", None)):
        write_verdict(_verdict(name, holds), tmp_path / name)
    markdown = (tmp_path / "scaling" / "verdict.md").read_text()
    assert "**Verdict: supported.**" in markdown and "| a | 3.5 |" in markdown
    assert "![scaling](fig.png)" in markdown
    data = json.loads((tmp_path / "heads" / "verdict.json").read_text())
    assert data["holds"] is None and data["rows"][1][1] == "nan"
    assert read_verdict(tmp_path / "scaling").summary == "measured **3.5** against 1.0"
    index = write_index(tmp_path, ["scaling", "heads", "missing"]).read_text()
    assert "| [`scaling`](#scaling) a title | supported | 12 |" in index
    assert "| [`heads`](#heads) a title | could not decide | 12 |" in index
    assert "![scaling](scaling/fig.png)" in index and "missing" not in index
    elsewhere = write_index(tmp_path, ["scaling"], index=tmp_path.parent / "lab.md")
    assert f"![scaling]({tmp_path.name}/scaling/fig.png)" in elsewhere.read_text()


def test_cli_lists_claims_and_refuses_an_unknown_one_in_one_line(capsys):
    assert main(["lab", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(CLAIMS)
    assert main(["lab", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown lab claim 'nope'") and "\n" not in err


def test_cli_runs_a_claim_quickly_and_writes_its_verdict(tmp_path, capsys):
    assert main(["lab", "steps", "--quick", "--out", str(tmp_path)]) == 0
    verdict = read_verdict(tmp_path)
    assert verdict.quick and verdict.seconds > 0 and verdict.name == "steps"
    assert (tmp_path / verdict.figure).is_file()
    assert "verdict.md" in capsys.readouterr().out


def test_lab_all_keeps_going_after_a_broken_experiment(tmp_path, monkeypatch, capsys):
    import attnkit.lab as lab

    def fake_run(name, *, out, quick, seed):
        if name == "scaling":
            raise ValueError("broken experiment\nwith a second line")
        verdict = _verdict(name, True)
        write_verdict(verdict, out)
        return verdict

    monkeypatch.setattr(lab, "CLAIMS", {"scaling": "a", "heads": "b"})
    monkeypatch.setattr(lab, "run_claim", fake_run)
    assert main(["lab", "all", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error: broken experiment" in err and "second line" not in err
    assert "1 experiment(s) failed: scaling" in err
    assert (tmp_path / "heads" / "verdict.json").is_file()
    assert "heads" in (tmp_path / "README.md").read_text()
