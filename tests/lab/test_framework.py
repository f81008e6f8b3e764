"""The lab's registry, verdict files, index and command line."""

from __future__ import annotations

import json
import re

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
        machine="a CPU, 2 cores",
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
    assert "| **all 2** | | **24** (0 min) |" in index  # the budget: total wall time
    assert "Measured on: a CPU, 2 cores." in index
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
    assert verdict.machine.endswith(" cores")  # figures are recorded with their machine
    assert (tmp_path / verdict.figure).is_file()
    assert "verdict.md" in capsys.readouterr().out


def test_lab_all_keeps_going_after_a_broken_experiment(tmp_path, monkeypatch, capsys):
    import attnkit.lab as lab

    def fake_run(name, *, out, quick, seed, device):
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


def test_index_only_rewrites_the_index_from_recorded_verdicts_with_the_modules_prose(
    tmp_path, capsys, monkeypatch
):
    import attnkit.lab.scaling as scaling

    write_verdict(_verdict("scaling", False), tmp_path / "scaling")
    monkeypatch.setattr(
        scaling, "AGREEMENT", {"not supported": "disagrees, at this scale"}, raising=False
    )
    index = tmp_path / "lab.md"
    assert main(["lab", "all", "--index-only", "--out", str(tmp_path), "--index", str(index)]) == 0
    text = index.read_text()
    assert "| [`scaling`](#scaling) a title | not supported | 12 |" in text  # recorded numbers
    assert f"**Published result.** {scaling.PUBLISHED}" in text  # the module's prose
    assert "**This result against it.** disagrees, at this scale" in text
    assert read_verdict(tmp_path / "scaling").agreement == ""  # the record itself untouched
    assert "disagrees, at this scale" in (tmp_path / "scaling" / "verdict.md").read_text()


def test_index_only_needs_all_and_a_folder_of_runs(tmp_path, capsys):
    assert main(["lab", "scaling", "--index-only"]) == 2
    assert "attnkit lab all --index-only" in capsys.readouterr().err
    assert main(["lab", "all", "--index-only", "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no recorded lab runs" in err and "\n" not in err


def test_every_claim_cites_its_published_result_and_compares_only_known_outcomes():
    from attnkit.lab import claim_module

    outcomes = {"supported", "not supported", "could not decide"}
    for name in CLAIMS:
        module = claim_module(name)
        published = module.PUBLISHED
        assert re.search(r"\(\d{4}", published), f"{name}: PUBLISHED cites no dated paper"
        agreement = getattr(module, "AGREEMENT", {})
        assert set(agreement) <= outcomes, f"{name}: AGREEMENT keys {set(agreement)}"
        assert all(len(text) > 80 for text in agreement.values())
