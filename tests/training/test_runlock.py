"""One writer per run directory: the trainer holds RUN_DIR/train.lock while it writes; a
second writer is refused naming the holder and touches nothing; a lock left by a dead
process is taken over with a note; readers take no lock; every exit path releases it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess

import pytest

from attnkit.training.rundir import load_run
from attnkit.training.runlock import LOCK_FILE, RunBusyError, RunLock, read_holder
from attnkit.training.trainer import Trainer

from .conftest import tiny_config


def snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_held_lock_refuses_a_second_writer_naming_the_holder(tmp_path):
    with RunLock(tmp_path / "run") as lock:
        holder = read_holder(lock.path)
        assert holder.pid == os.getpid() and holder.host == socket.gethostname()
        with pytest.raises(RunBusyError) as exc:
            RunLock(tmp_path / "run").acquire()
    message = str(exc.value)
    assert "\n" not in message
    assert f"{tmp_path / 'run'} is being trained by process {os.getpid()} on this host" in message
    assert "choose another --out" in message
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # released, and the file removed


def test_the_trainer_refuses_a_run_directory_being_trained(corpus, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(corpus, steps=2), run).fit()
    with RunLock(run):
        before = snapshot(run)
        for resume in (False, True):
            with pytest.raises(RunBusyError, match=f"process {os.getpid()}"):
                Trainer(tiny_config(corpus, steps=4), run, resume=resume).fit()
        assert snapshot(run) == before  # not a byte written, the lock file left alone


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(corpus, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pid = dead_pid()
    stale = {"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}
    (run / LOCK_FILE).write_text(json.dumps(stale))
    events = []
    Trainer(tiny_config(corpus, steps=2), run, callbacks=[events.append]).fit()
    notes = [e.data["text"] for e in events if e.kind == "message"]
    assert notes[0] == (
        f"note: took over the stale lock {run / LOCK_FILE} of process {pid} on this host "
        f"(since 2026-01-01T00:00:00+00:00), which no longer runs"
    )
    assert not (run / LOCK_FILE).exists()


def test_without_flock_a_live_pid_holds_the_lock_and_a_dead_one_does_not(tmp_path, monkeypatch):
    """On file systems without flock the pid in the file decides."""
    import attnkit.training.runlock as runlock

    def no_flock(fd, operation):
        raise OSError(runlock.errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runlock.fcntl, "flock", no_flock)
    run = tmp_path / "run"
    run.mkdir()
    live = subprocess.Popen(["sleep", "30"])
    try:
        holder = {"pid": live.pid, "host": socket.gethostname(), "started": "then"}
        (run / LOCK_FILE).write_text(json.dumps(holder))
        with pytest.raises(RunBusyError, match=f"process {live.pid} on this host"):
            RunLock(run).acquire()
        (run / LOCK_FILE).write_text(json.dumps({**holder, "host": "elsewhere"}))
        with pytest.raises(RunBusyError, match=f"process {live.pid} on host elsewhere"):
            RunLock(run).acquire()
    finally:
        live.kill()
        live.wait()
    (run / LOCK_FILE).write_text(json.dumps({**holder, "pid": dead_pid()}))
    lock = RunLock(run)
    assert "which no longer runs" in lock.acquire()
    lock.release()


class Crash(Exception):
    pass


def test_the_lock_is_held_while_training_and_released_on_every_exit_path(corpus, tmp_path):
    run = tmp_path / "run"
    seen = []

    def look(event):
        if event.kind == "checkpoint" and event.state.step == 1:
            seen.append(read_holder(run / LOCK_FILE))
            # readers take no lock: a run being trained can be loaded meanwhile
            seen.append(load_run(run).checkpoint.step)

    Trainer(tiny_config(corpus, steps=2), run, callbacks=[look]).fit()  # normal end
    assert seen[0].pid == os.getpid() and seen[1] == 1
    assert not (run / LOCK_FILE).exists()

    def crash(event):
        if event.kind == "log":
            raise Crash

    with pytest.raises(Crash):  # an exception
        Trainer(tiny_config(corpus, steps=4), run, resume=True, callbacks=[crash]).fit()
    assert not (run / LOCK_FILE).exists()

    def interrupt(event):
        if event.kind == "log":
            signal.raise_signal(signal.SIGTERM)

    state = Trainer(tiny_config(corpus, steps=4), run, resume=True, callbacks=[interrupt]).fit()
    assert state.stop_reason == "interrupted by SIGTERM"  # a signal
    assert not (run / LOCK_FILE).exists()


def test_a_refused_run_leaves_no_directory_behind(corpus, tmp_path):
    from attnkit.training.trainer import TrainingError

    with pytest.raises(TrainingError, match="nothing to resume"):
        Trainer(tiny_config(corpus), tmp_path / "absent", resume=True).fit()
    assert not (tmp_path / "absent").exists()
