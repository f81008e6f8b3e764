"""Checkpoints: round trips, retention and pointers, crash and corruption handling.

TESTING.md: kill -9 during a write leaves the previous checkpoint loadable; disk full leaves it
intact with one line naming the path; truncated / empty / random-bytes / wrong-architecture
checkpoints give one line naming the file; a pickle payload is refused and never executed.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import attnkit
import attnkit.training.checkpoint as ckpt_module
from attnkit.config import DecoderLMConfig
from attnkit.models import DecoderLM
from attnkit.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_model,
    restore_optimizer,
    restore_rng_state,
    save_checkpoint,
    write_bytes_atomic,
    write_json_atomic,
)
from attnkit.training.checkpoint.format import _pack_tensors, _safetensors_header

WORKER = Path(__file__).with_name("checkpoint_worker.py")
SRC = Path(attnkit.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_lm(seed: int = 0, **options) -> DecoderLM:
    torch.manual_seed(seed)
    config = {"vocab_size": 32, "d_model": 16, "num_heads": 2, "num_layers": 1, "dropout": 0.0}
    config.update(options)
    return DecoderLM(DecoderLMConfig(**config)).eval()


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        tokens = torch.randint(32, (2, 8), generator=generator)
        loss = model(tokens[:, :-1], labels=tokens[:, 1:]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def save(run, step, model=None, optimizer=None, **kwargs) -> Path:
    kwargs.setdefault("trainer_state", {"step": step})
    model = model if model is not None else tiny_lm()
    return save_checkpoint(run, step=step, model=model, optimizer=optimizer, **kwargs)


def step_dirs(run) -> list[str]:
    checkpoints = Path(run) / "checkpoints"
    return sorted(p.name for p in checkpoints.iterdir() if p.name.startswith("step-"))


def assert_one_line(exc: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(exc.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


# ---------------------------------------------------------------------- round trips


def test_save_load_restore_gives_identical_weights_and_outputs(tmp_path):
    model = tiny_lm(seed=0)
    path = save(tmp_path, 500, model, trainer_state={"epoch": 2, "best_loss": float("inf")})
    assert path == tmp_path / "checkpoints" / "step-00000500"
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "state.json"]

    checkpoint = load_checkpoint(tmp_path)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.path == path and checkpoint.step == 500
    assert checkpoint.trainer_state == {"epoch": 2, "best_loss": float("inf")}
    assert checkpoint.optimizer_state is None and checkpoint.rng_state == {}
    assert "step=500" in repr(checkpoint) and "tensor" not in repr(checkpoint)

    other = tiny_lm(seed=1)
    assert not torch.equal(other.lm_head.weight, model.lm_head.weight)
    restore_model(other, checkpoint)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), other.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    tokens = torch.randint(32, (3, 9))
    assert torch.equal(model(tokens).logits, other(tokens).logits)


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    model = tiny_lm(seed=0)
    assert model.lm_head.weight is model.embedding.token.weight  # tie_embeddings by default
    save(tmp_path, 1, model)
    header = _safetensors_header(
        (tmp_path / "checkpoints/step-00000001/model.safetensors").read_bytes()
    )
    stored = set(header) - {"__metadata__"}
    assert len(stored) == len(model.state_dict()) - 1  # one name of the tied pair is an alias

    checkpoint = load_checkpoint(tmp_path)
    state = checkpoint.model_state
    assert state["lm_head.weight"] is state["embedding.token.weight"]
    fresh = tiny_lm(seed=1)
    restore_model(fresh, checkpoint)
    assert fresh.lm_head.weight is fresh.embedding.token.weight
    assert torch.equal(fresh.lm_head.weight, model.lm_head.weight)
    with torch.no_grad():  # still one parameter: a change through one name shows in the other
        fresh.embedding.token.weight.add_(1.0)
    assert torch.equal(fresh.lm_head.weight, model.lm_head.weight + 1.0)


def test_a_hand_tied_module_and_views_round_trip(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10, 4)
            self.lm_head = nn.Linear(4, 10, bias=False)
            self.lm_head.weight = self.embedding.weight
            flat = torch.arange(12.0)
            self.register_buffer("first", flat[:6])  # two views into one storage
            self.register_buffer("second", flat[6:].view(2, 3))

    model = Tied()
    save(tmp_path, 3, model)
    fresh = Tied()
    with torch.no_grad():
        fresh.embedding.weight.zero_()
        fresh.first.zero_()
    restore_model(fresh, load_checkpoint(tmp_path))
    assert fresh.lm_head.weight is fresh.embedding.weight
    assert torch.equal(fresh.embedding.weight, model.embedding.weight)
    assert torch.equal(fresh.first, torch.arange(6.0))
    assert torch.equal(fresh.second, torch.arange(6.0, 12.0).view(2, 3))


def test_wrapped_model_is_saved_unwrapped(tmp_path):
    model = tiny_lm()
    save(tmp_path, 1, nn.DataParallel(model))
    checkpoint = load_checkpoint(tmp_path)
    assert set(checkpoint.model_state) == set(model.state_dict())
    restore_model(nn.DataParallel(tiny_lm(seed=2)), checkpoint)


def test_optimizer_round_trip_continues_exactly(tmp_path):
    model = tiny_lm(seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    train(model, optimizer, steps=3)
    save(tmp_path, 3, model, optimizer)

    checkpoint = load_checkpoint(tmp_path)
    original = optimizer.state_dict()
    loaded = checkpoint.optimizer_state
    assert loaded["param_groups"] == original["param_groups"]
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert loaded["state"].keys() == original["state"].keys()
    for index, entry in original["state"].items():
        for key, value in entry.items():
            assert torch.equal(loaded["state"][index][key], value), (index, key)
    header = _safetensors_header((checkpoint.path / "optimizer.safetensors").read_bytes())
    assert "state.0.exp_avg" in header and "state.0.exp_avg_sq" in header

    fresh = tiny_lm(seed=5)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=0.5)
    restore_model(fresh, checkpoint)
    restore_optimizer(fresh_optimizer, checkpoint)
    train(model, optimizer, steps=1, seed=9)
    train(fresh, fresh_optimizer, steps=1, seed=9)
    for (name, a), (_, b) in zip(model.named_parameters(), fresh.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_optimizer_without_state_and_sgd_round_trip(tmp_path):
    model = tiny_lm()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    save(tmp_path, 0, model, optimizer)  # before the first step: empty state
    assert load_checkpoint(tmp_path).optimizer_state == optimizer.state_dict()
    train(model, optimizer, steps=2)
    save(tmp_path, 2, model, optimizer)
    fresh_optimizer = torch.optim.SGD(tiny_lm().parameters(), lr=0.1, momentum=0.9)
    restore_optimizer(fresh_optimizer, load_checkpoint(tmp_path))
    assert torch.equal(
        fresh_optimizer.state_dict()["state"][0]["momentum_buffer"],
        optimizer.state_dict()["state"][0]["momentum_buffer"],
    )


def test_restore_optimizer_errors(tmp_path):
    model = tiny_lm()
    save(tmp_path, 1, model)
    with pytest.raises(CheckpointError) as exc:
        restore_optimizer(torch.optim.AdamW(model.parameters()), load_checkpoint(tmp_path))
    assert_one_line(exc, "step-00000001", "no optimizer state")

    optimizer = torch.optim.AdamW(model.parameters())
    train(model, optimizer, steps=1)
    save(tmp_path, 2, model, optimizer)
    other = torch.optim.AdamW(nn.Linear(2, 2).parameters())
    with pytest.raises(CheckpointError) as exc:
        restore_optimizer(other, load_checkpoint(tmp_path))
    assert_one_line(exc, "optimizer.safetensors", "does not fit this optimizer")


def test_rng_round_trip(tmp_path):
    model = tiny_lm()  # (seeds torch itself)
    torch.manual_seed(11)
    random.seed(12)
    np.random.seed(13)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    save(tmp_path, 1, model, rng_state=capture_rng_state())

    def draw():
        return torch.rand(5), random.random(), random.gauss(0, 1), np.random.rand(3)

    expected = draw()
    draw()
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.rng_state["torch"].dtype == torch.uint8
    restore_rng_state(checkpoint.rng_state)
    again = draw()
    assert torch.equal(again[0], expected[0])
    assert again[1:3] == expected[1:3]
    assert np.array_equal(again[3], expected[3])


def test_map_location_and_checkpoint_dir_paths(tmp_path):
    path = save(tmp_path, 4)
    for where in (tmp_path, tmp_path / "checkpoints", path):
        assert load_checkpoint(where, map_location=torch.device("cpu")).step == 4
    with pytest.raises(ValueError, match="which"):
        load_checkpoint(tmp_path, which="newest")


# ---------------------------------------------------------------------- pointers, retention


def test_pointer_semantics(tmp_path):
    assert latest_checkpoint(tmp_path / "nowhere") is None
    assert latest_checkpoint(tmp_path) is None
    first = save(tmp_path, 1, is_best=True)
    second = save(tmp_path, 2)
    pointers = tmp_path / "checkpoints"
    assert json.loads((pointers / "latest.json").read_text()) == {
        "step": 2,
        "dir": "step-00000002",
    }
    assert json.loads((pointers / "best.json").read_text())["dir"] == "step-00000001"
    assert latest_checkpoint(tmp_path) == second
    assert load_checkpoint(tmp_path).path == second
    assert load_checkpoint(tmp_path, which="best").path == first
    assert not [p for p in pointers.iterdir() if p.name.startswith(".")]


def test_keep_last_deletes_old_checkpoints(tmp_path):
    for step in range(1, 7):
        save(tmp_path, step, keep_last=2)
    assert step_dirs(tmp_path) == ["step-00000005", "step-00000006"]
    for step in range(7, 9):
        save(tmp_path, step, keep_last=None)
    assert len(step_dirs(tmp_path)) == 4


def test_keep_last_never_deletes_the_best(tmp_path):
    save(tmp_path, 1, keep_last=2, is_best=True)
    for step in range(2, 6):
        save(tmp_path, step, keep_last=2)
    assert step_dirs(tmp_path) == ["step-00000001", "step-00000004", "step-00000005"]
    assert load_checkpoint(tmp_path, which="best").step == 1
    save(tmp_path, 6, keep_last=2, is_best=True)
    assert step_dirs(tmp_path) == ["step-00000005", "step-00000006"]
    assert load_checkpoint(tmp_path, which="best").step == 6


def test_keep_last_keeps_a_resave_below_newer_steps(tmp_path):
    """Resumed from step 2 while 3 and 4 exist: the checkpoint just written is kept."""
    for step in (2, 3, 4):
        save(tmp_path, step, keep_last=2)
    path = save(tmp_path, 2, keep_last=2)
    assert path.is_dir() and load_checkpoint(tmp_path).step == 2
    assert step_dirs(tmp_path) == ["step-00000002", "step-00000003", "step-00000004"]


def test_resaving_a_step_replaces_it(tmp_path):
    save(tmp_path, 5, tiny_lm(seed=0))
    model = tiny_lm(seed=1)
    save(tmp_path, 5, model, trainer_state={"again": True})
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.trainer_state == {"again": True}
    assert torch.equal(checkpoint.model_state["lm_head.weight"], model.lm_head.weight)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")] == []


def test_stale_temp_entries_are_removed_by_the_next_save(tmp_path):
    save(tmp_path, 1)
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / ".tmp-step-00000002-deadbeef").mkdir()
    (checkpoints / ".tmp-step-00000002-deadbeef" / "model.safetensors").write_bytes(b"half")
    (checkpoints / ".tmp-latest.json-cafe0123").write_text("{")
    assert load_checkpoint(tmp_path).step == 1
    save(tmp_path, 2)
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "latest.json",
        "step-00000001",
        "step-00000002",
    ]


def test_interrupted_replacement_is_readable_and_repaired(tmp_path):
    """Killed between the two renames of a re-save: step-N is briefly absent."""
    save(tmp_path, 1)
    save(tmp_path, 2, trainer_state={"copy": "old"})
    checkpoints = tmp_path / "checkpoints"
    os.rename(checkpoints / "step-00000002", checkpoints / ".old-step-00000002-0123abcd")
    (checkpoints / ".tmp-step-00000002-89abcdef").mkdir()
    assert latest_checkpoint(tmp_path) == checkpoints / ".old-step-00000002-0123abcd"
    assert load_checkpoint(tmp_path).trainer_state == {"copy": "old"}
    save(tmp_path, 3)
    assert step_dirs(tmp_path) == ["step-00000001", "step-00000002", "step-00000003"]
    assert load_checkpoint(checkpoints / "step-00000002").trainer_state == {"copy": "old"}


# ---------------------------------------------------------------------- refusing to save


def test_refuses_to_save_nan_weights_and_touches_nothing(tmp_path):
    save(tmp_path, 1)
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    latest = (tmp_path / "checkpoints" / "latest.json").read_bytes()
    model = tiny_lm()
    name, param = next((n, p) for n, p in model.named_parameters() if "decoder" in n)
    with torch.no_grad():
        param.view(-1)[0] = float("nan")
    with pytest.raises(CheckpointError) as exc:
        save(tmp_path, 2, model)
    assert_one_line(exc, "refusing to save step 2: model weights contain NaN/Inf", name)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before
    assert (tmp_path / "checkpoints" / "latest.json").read_bytes() == latest

    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.bias[0] = float("-inf")
    with pytest.raises(CheckpointError, match="NaN/Inf"):
        save(tmp_path / "fresh", 1, linear)
    assert not (tmp_path / "fresh").exists()


def test_refuses_non_json_trainer_state(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        save(tmp_path, 1, trainer_state={"when": object()})
    assert_one_line(exc, "refusing to save step 1", "trainer_state is not JSON-serialisable")
    assert not (tmp_path / "checkpoints").exists()
    with pytest.raises(ValueError, match="step"):
        save(tmp_path, -1)
    with pytest.raises(ValueError, match="keep_last"):
        save(tmp_path, 1, keep_last=0)


# ---------------------------------------------------------------------- disk full


class _DiskFull:
    """os.write replacement: the first ``allow`` calls work (the last of them only half),
    then ENOSPC, as when a disk fills up in the middle of a file."""

    def __init__(self, allow: int):
        self.allow = allow
        self.calls = 0
        self.real = os.write

    def __call__(self, fd, data):
        self.calls += 1
        if self.calls > self.allow:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.calls == self.allow:
            return self.real(fd, bytes(data[: max(1, len(data) // 2)]))
        return self.real(fd, data)


@pytest.mark.parametrize(
    ("allow", "failing"),
    [
        (1, "step-00000002/model.safetensors"),
        (2, "step-00000002/optimizer.safetensors"),
        (4, "step-00000002/state.json"),
        (5, "checkpoints/latest.json"),
    ],
)
def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch, allow, failing):
    model = tiny_lm()
    optimizer = torch.optim.AdamW(model.parameters())
    train(model, optimizer, steps=1)
    save(tmp_path, 1, model, optimizer)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, optimizer, steps=1)

    # one os.write per file, in order: model.safetensors, optimizer.safetensors,
    # optimizer.json, state.json, then latest.json; `allow` = the file that fills the disk
    monkeypatch.setattr(os, "write", _DiskFull(allow))
    with pytest.raises(CheckpointError) as exc:
        save(tmp_path, 2, model, optimizer)
    monkeypatch.undo()
    assert_one_line(exc, "no space left on device while writing", failing)

    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest.json", "step-00000001"]
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.step == 1
    fresh = tiny_lm(seed=3)
    restore_model(fresh, checkpoint)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert save(tmp_path, 2, model, optimizer).name == "step-00000002"  # space again: fine


def test_atomic_writers(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    write_bytes_atomic(tmp_path / "blob", b"\x00\x01")
    assert (tmp_path / "blob").read_bytes() == b"\x00\x01"
    monkeypatch.setattr(os, "write", _DiskFull(1))
    with pytest.raises(CheckpointError) as exc:
        write_json_atomic(target, {"a": 3, "padding": "x" * 100})
    monkeypatch.undo()
    assert_one_line(exc, f"no space left on device while writing {target}")
    assert json.loads(target.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob", "config.json"]
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})


# ---------------------------------------------------------------------- bad checkpoints


@pytest.fixture
def saved_run(tmp_path) -> Path:
    model = tiny_lm()
    optimizer = torch.optim.AdamW(model.parameters())
    train(model, optimizer, steps=1)
    save(tmp_path, 7, model, optimizer, rng_state=capture_rng_state())
    return tmp_path


def _noise(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _model_file(run: Path) -> Path:
    return run / "checkpoints" / "step-00000007" / "model.safetensors"


def test_missing_paths(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(tmp_path / "absent")
    assert_one_line(exc, f"{tmp_path / 'absent'} does not exist")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(tmp_path)
    assert_one_line(exc, f"{tmp_path} is not an attnkit run: no checkpoints/latest.json")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(tmp_path / "file.txt")
    assert_one_line(exc, "file.txt", "is not a checkpoint directory or an attnkit run")


def test_missing_best_and_dangling_pointer(saved_run):
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run, which="best")
    assert_one_line(exc, f"{saved_run} has no best checkpoint: no checkpoints/best.json")
    latest = saved_run / "checkpoints" / "latest.json"
    latest.write_text(json.dumps({"step": 9, "dir": "step-00000009"}))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(latest), "points to", "step-00000009, which does not exist")
    latest.write_text(json.dumps({"step": 9, "dir": "../../etc"}))
    with pytest.raises(CheckpointError) as exc:
        latest_checkpoint(saved_run)
    assert_one_line(exc, str(latest), "corrupt")
    latest.write_text("{not json")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(latest), "is not valid JSON")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[: len(data) // 2], "is corrupt or truncated: "),
        (lambda data: b"", "is corrupt or truncated: 0 bytes"),
        (lambda data: _noise(len(data)), "is corrupt: sha256"),
        (lambda data: _noise(100), "is corrupt or truncated: 100 bytes"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "is corrupt: sha256"),
    ],
    ids=["truncated", "empty", "random-same-size", "random", "one-bit"],
)
def test_damaged_weights_are_reported(saved_run, damage, expected):
    path = _model_file(saved_run)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(path), expected)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[: len(data) // 2], "corrupt or truncated"),
        (lambda data: data[:5], "corrupt or truncated: no valid safetensors header"),
        (lambda data: b"", "corrupt or truncated: the file is empty"),
        (lambda data: _noise(len(data)), "corrupt or truncated"),
    ],
    ids=["truncated", "header-cut", "empty", "random"],
)
def test_damaged_weights_are_reported_by_the_parser(saved_run, damage, expected):
    """Without the sha256 check (or with a consistent state.json) the parser catches it."""
    path = _model_file(saved_run)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run, verify=False)
    assert_one_line(exc, str(path), expected)


def test_missing_file_listed_in_state(saved_run):
    path = _model_file(saved_run).with_name("optimizer.safetensors")
    path.unlink()
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(path), "is missing (listed in state.json)")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[1, 2]", "is corrupt: expected a JSON object"),
        ('{"format": "attnkit.checkpoint"}', "missing key(s) format_version, step"),
        (None, "missing key(s) files"),
        (
            '{"format": "other", "format_version": 1, "step": 1, "trainer_state": {}, "files": {}}',
            "is not an attnkit checkpoint",
        ),
    ],
)
def test_bad_state_json(saved_run, content, expected):
    path = _model_file(saved_run).with_name("state.json")
    if content is None:
        state = json.loads(path.read_text())
        del state["files"]
        content = json.dumps(state)
    path.write_text(content)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(path), expected)


def test_state_json_from_a_newer_version(saved_run):
    path = _model_file(saved_run).with_name("state.json")
    state = json.loads(path.read_text())
    state["format_version"] = 99
    path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, str(path), "format version 99", "upgrade attnkit")


def test_checkpoint_dir_without_state_json(saved_run):
    directory = _model_file(saved_run).parent
    (directory / "state.json").unlink()
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(directory)
    assert_one_line(exc, f"{directory} is not an attnkit checkpoint: no state.json")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"d_model": 24}, "shape mismatch: "),
        ({"num_layers": 2}, "missing key(s) (decoder.layers.1."),
        ({"vocab_size": 40}, "embedding.token.weight (32, 16) in the checkpoint vs (40, 16)"),
        ({"norm": "rmsnorm"}, "unexpected key(s)"),
    ],
    ids=["width", "layers", "vocabulary", "norm"],
)
def test_wrong_architecture(saved_run, options, expected):
    checkpoint = load_checkpoint(saved_run)
    with pytest.raises(CheckpointError) as exc:
        restore_model(tiny_lm(**options), checkpoint)
    assert_one_line(exc, str(_model_file(saved_run)), "wrong architecture: ", expected)


class _Payload:
    """Unpickling this calls os.mkdir(marker): proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_payload_is_refused_and_never_executed(saved_run, tmp_path_factory):
    marker = tmp_path_factory.mktemp("evidence") / "pickle-was-executed"
    payload = pickle.dumps(_Payload(marker), protocol=4)
    assert payload[:1] == b"\x80"
    # the payload is live: unpickling it here (in a separate spot) does create a marker
    armed = marker.with_name("armed")
    pickle.loads(pickle.dumps(_Payload(armed), protocol=4))
    assert armed.is_dir()

    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors"):
        path = _model_file(saved_run).with_name(name)
        original = path.read_bytes()
        path.write_bytes(payload)
        for verify in (True, False):
            with pytest.raises(CheckpointError) as exc:
                load_checkpoint(saved_run, verify=verify)
            assert_one_line(
                exc,
                f"refusing to load {path}: it is a pickle/torch.save file; "
                "attnkit never unpickles checkpoints",
            )
        path.write_bytes(original)
    assert not marker.exists()
    assert load_checkpoint(saved_run).step == 7


def test_torch_save_archive_is_refused(saved_run):
    path = _model_file(saved_run)
    torch.save(tiny_lm().state_dict(), path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(saved_run)
    assert_one_line(exc, f"refusing to load {path}: it is a pickle/torch.save file")


def test_source_never_unpickles():
    """No unpickling import or call anywhere in the package (checked on its syntax trees)."""
    sources = sorted(Path(ckpt_module.__file__).parent.glob("*.py"))
    assert {p.name for p in sources} >= {"__init__.py", "atomic.py", "format.py", "store.py"}
    nodes = [
        node
        for source in sources
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
    ]
    unsafe_modules = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "yaml"}
    for node in nodes:
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & unsafe_modules
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in unsafe_modules
            assert "load" not in {a.name for a in node.names} or node.module != "torch"
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            assert name not in {"eval", "exec", "torch.load", "__import__"}, name
            assert not name.startswith(("pickle.", "yaml.")), name


def test_a_safetensors_file_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """A header of 128 mod 256 bytes makes a valid file start with 0x80, like a pickle."""
    for length in range(1, 400):
        model = nn.Module()
        model.register_parameter("w" * length, nn.Parameter(torch.zeros(1)))
        if _pack_tensors(model.state_dict(), "a test")[:1] == b"\x80":
            break
    else:
        pytest.fail("no header length of 128 mod 256 found")
    path = save(tmp_path, 1, model)
    assert (path / "model.safetensors").read_bytes()[:1] == b"\x80"
    restore_model(model, load_checkpoint(tmp_path))


# ---------------------------------------------------------------------- kill -9


def _start_worker(run: Path, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(run)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(SRC)),
    )


def _read_line(proc: subprocess.Popen, log_path: Path) -> str:
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        pytest.fail(f"worker exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
    return line.strip()


def _kill_loop(tmp_path: Path, kills: int) -> None:
    run = tmp_path / "run"
    log_path = tmp_path / "worker.log"
    rng = random.Random(20240601)
    expected = None  # step the next worker must resume from
    mid_write = 0
    started = time.perf_counter()
    with log_path.open("w") as log:
        for _ in range(kills):
            proc = _start_worker(run, log)
            try:
                first = _read_line(proc, log_path)
                assert first == ("fresh 0" if expected is None else f"resumed {expected}")
                resumed = 0 if expected is None else expected
                assert _read_line(proc, log_path) == f"saved {resumed + 1}"
                time.sleep(rng.uniform(0.05, 0.6))
                proc.send_signal(signal.SIGKILL)
            finally:
                proc.kill()
                proc.wait()
                proc.stdout.close()
            assert proc.returncode == -signal.SIGKILL
            checkpoints = run / "checkpoints"
            mid_write += any(p.name.startswith(".tmp-") for p in checkpoints.iterdir())
            checkpoint = load_checkpoint(run)  # the previous checkpoint always loads
            assert checkpoint.step >= resumed + 1
            assert checkpoint.trainer_state == {"step": checkpoint.step}
            model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(128, 128), nn.Tanh())])
            restore_model(model, checkpoint)
            restore_optimizer(torch.optim.AdamW(model.parameters()), checkpoint)
            assert len(step_dirs(run)) <= 3
            expected = checkpoint.step

    # the killed-and-resumed run equals one that was never interrupted
    reference = tmp_path / "reference"
    subprocess.run(
        [sys.executable, str(WORKER), str(reference), "--uninterrupted", str(expected)],
        check=True,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(SRC)),
    )
    resumed_run, uninterrupted = load_checkpoint(run), load_checkpoint(reference)
    assert resumed_run.step == uninterrupted.step == expected
    for key, value in uninterrupted.model_state.items():
        assert torch.equal(resumed_run.model_state[key], value), key
    print(
        f"\n{kills} kills in {time.perf_counter() - started:.1f}s; last step {expected}; "
        f"{mid_write} kills left a half-written .tmp-* entry behind"
    )


def test_kill_9_during_checkpointing_never_loses_the_previous_checkpoint(tmp_path):
    _kill_loop(tmp_path, kills=5)


@pytest.mark.slow
def test_kill_9_twenty_times(tmp_path):
    _kill_loop(tmp_path, kills=20)
