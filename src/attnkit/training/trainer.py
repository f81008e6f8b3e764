"""The training loop, in one place.

One update (``step``) = ``accumulate`` micro-batches on each of ``world_size`` processes,
their summed token losses divided by the token count of the whole update, so the
gradient is that of one big batch. Around it: learning-rate schedule, gradient
clipping, skipping of non-finite updates, periodic evaluation, early stopping,
checkpoints (rank 0 only), Ctrl-C / SIGTERM handling, and metrics.

Reliability. Rank 0 holds the run directory's lock (:mod:`.runlock`) from before it looks at
the directory until its last write, so one directory has one writer. Ctrl-C or SIGTERM ends
the current step, saves and stops; ``resume`` continues such a run (and one that crashed)
exactly where its checkpoint left it. A damaged latest checkpoint is skipped for the newest
intact one, saying so. Every checkpoint carries a fingerprint of the data files
(:mod:`.fingerprint`); resuming on data that changed since is refused unless
``allow_data_change``.

The trainer prints nothing: it reports through callbacks (the CLI draws a progress bar
from them) and appends JSON lines to ``metrics.jsonl``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnkit.config import RunConfig, run_config_to_dict
from attnkit.models.registry import build_model
from attnkit.nn import fast
from attnkit.nn.fast.passes import cache_sized_passes
from attnkit.runtime import (
    DistributedContext,
    autocast,
    init_distributed,
    resolve_precision,
)
from attnkit.training.checkpoint import (
    LATEST,
    Checkpoint,
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    newest_intact_checkpoint,
    restore_model,
    restore_optimizer,
    restore_rng_state,
    save_checkpoint,
)
from attnkit.training.fingerprint import DATA_FILE_KEYS, data_changes, data_fingerprint
from attnkit.training.optim import build_optimizer, learning_rate
from attnkit.training.rundir import RunDir
from attnkit.training.runlock import RunLock
from attnkit.training.tasks import Task, build_task

__all__ = ["Event", "TrainState", "Trainer", "TrainingError", "update_step"]

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss keeps being non-finite); the message says why."""


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint (JSON).

    ``step`` counts applied updates (it drives the schedule); ``batch_index`` counts
    batches consumed, including those of skipped non-finite updates.
    ``data_fingerprint`` is what the data files held (:func:`.fingerprint.data_fingerprint`;
    ``None`` in checkpoints older than it).
    """

    step: int = 0
    batch_index: int = 0
    best_loss: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    nonfinite_in_a_row: int = 0
    skipped_updates: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0
    stop_reason: str = ""
    data_fingerprint: dict[str, Any] | None = None


@dataclass
class Event:
    """What the trainer reports to callbacks: ``kind`` is ``start``, ``log``, ``eval``,
    ``skip``, ``checkpoint``, ``message`` or ``end``."""

    kind: str
    state: TrainState
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


Callback = Callable[[Event], None]


class Trainer:
    """Train the model a :class:`~attnkit.config.RunConfig` describes into ``run_dir``.

    Args:
        config: the run config (model, data, train).
        run_dir: the run directory (created if needed).
        resume: continue from the run's latest checkpoint (the newest intact one when the
            latest is damaged).
        allow_data_change: with ``resume``, go on although the data files changed since the
            checkpoint, or the config names other data files (``data.train``, ...).
        callbacks: called with every :class:`Event`.
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        *,
        resume: bool = False,
        allow_data_change: bool = False,
        callbacks: Sequence[Callback] = (),
    ):
        self.config = config
        self.paths = RunDir(Path(run_dir))
        self.resume = resume
        self.allow_data_change = allow_data_change
        self.callbacks = list(callbacks)
        self.state = TrainState()
        self._signal: int | None = None

    # ------------------------------------------------------------------ set-up

    def _emit(self, kind: str, /, **data: Any) -> None:
        event = Event(kind, self.state, data)
        for callback in self.callbacks:
            callback(event)

    def _check_run_dir(self) -> None:
        has_run = self.paths.has_checkpoint()
        if self.resume and not has_run:
            raise TrainingError(
                f"nothing to resume in {self.paths.root}: it holds no checkpoint; "
                f"drop --resume to start a new run there"
            )
        if not self.resume and has_run:
            raise TrainingError(
                f"{self.paths.root} already holds a run; pass --resume to continue it, "
                f"or choose another --out"
            )

    def _check_resumed_config(self) -> list[str]:
        """Refuse model/data changes on resume; return one note per allowed change (train
        settings, and with ``allow_data_change`` other data files)."""
        saved = run_config_to_dict(self.paths.read_config())
        current = run_config_to_dict(self.config)
        changed = []
        for section in ("model", "data", "train"):
            for key in sorted(set(saved[section]) | set(current[section])):
                before, after = saved[section].get(key), current[section].get(key)
                filled = key.endswith("vocab_size") or key in self.config.model.vocab_keys
                if section == "model" and filled and after is None:
                    continue  # filled from the tokenizer
                if before != after:
                    changed.append((section, key, before, after))
        structural = [c for c in changed if c[0] != "train" and not self._allowed_data(c)]
        if structural:
            what = ", ".join(f"{s}.{k}: {b!r} -> {a!r}" for s, k, b, a in structural)
            if all(s == "data" and k in DATA_FILE_KEYS for s, k, _, _ in structural):
                raise TrainingError(
                    f"cannot resume {self.paths.root} on other data files ({what}); pass "
                    f"allow_data_change=True to go on training on them, or start a new run "
                    f"in another directory"
                )
            raise TrainingError(
                f"cannot resume {self.paths.root} with a different model or data ({what}); "
                f"start a new run with --out"
            )
        return [
            f"resuming with {section}.{key} = {after!r} (was {before!r})"
            for section, key, before, after in changed
        ]

    def _allowed_data(self, change: tuple[str, str, Any, Any]) -> bool:
        return self.allow_data_change and change[0] == "data" and change[1] in DATA_FILE_KEYS

    def _resume_checkpoint(self) -> tuple[Checkpoint, list[str]]:
        """The checkpoint to resume from: the latest, or when it is damaged (or
        ``latest.json`` is lost) the newest intact one, with a note saying so."""
        root = self.paths.root
        try:
            checkpoint = load_checkpoint(root)
        except CheckpointError as exc:
            intact = newest_intact_checkpoint(root)
            if intact is None:
                raise TrainingError(
                    f"cannot resume {root}: {exc}; no checkpoint of this run is intact, "
                    f"start a new run in another directory"
                ) from None
            return intact, [
                f"{exc}; resuming from step {intact.step}, the newest intact checkpoint"
            ]
        if not (self.paths.checkpoints / LATEST).is_file():
            return checkpoint, [
                f"{root} has no checkpoints/{LATEST}: resuming from step {checkpoint.step}, "
                f"the newest checkpoint it keeps"
            ]
        return checkpoint, []

    def _check_resumed_data(self, checkpoint: Checkpoint, current: dict[str, Any]) -> list[str]:
        """Refuse data files whose content changed since ``checkpoint``; with
        ``allow_data_change`` return a note naming them instead."""
        saved = checkpoint.trainer_state.get("data_fingerprint")
        if saved is None:
            return [
                f"{checkpoint.path} holds no data fingerprint (saved by an older attnkit): "
                f"cannot tell whether the training data changed"
            ]
        changes = data_changes(saved, current)
        if not changes:
            return []
        what = "; ".join(changes)
        if not self.allow_data_change:
            raise TrainingError(
                f"cannot resume {self.paths.root}: the training data changed since step "
                f"{checkpoint.step} ({what}); pass allow_data_change=True to go on training "
                f"on the data as it is now, or start a new run in another directory"
            )
        return [f"resuming on changed data: {what}"]

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def request_stop(signum: int, frame: Any) -> None:
            self._signal = signum

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    # ------------------------------------------------------------------ the loop

    def fit(self) -> TrainState:
        """Train to ``train.steps`` updates (or an early stop); return the final state.

        Raises:
            RunBusyError: another process is training into the run directory.
            TrainingError: the directory holds a run and ``resume`` is not set (or the
                reverse), the config or the data changed on resume, or training cannot go
                on.
        """
        dist, device = init_distributed(self.config.train.device)
        precision = resolve_precision(self.config.train.precision, device)
        # The lock comes before anything looks at the directory, and goes after the last write.
        lock = RunLock(self.paths.root) if dist.is_main else None
        if lock is not None:
            note = lock.acquire()
            if note:
                self._emit("message", text=note)
        try:
            return self._fit(dist, device, precision)
        finally:
            if lock is not None:
                lock.release()

    def _fit(self, dist: DistributedContext, device: torch.device, precision: str) -> TrainState:
        cfg, train = self.config, self.config.train
        self._check_run_dir()
        fingerprint = data_fingerprint(cfg.data)
        checkpoint, config_changed = None, False
        if self.resume:
            # every check first, then the notes: a refused resume says one thing only
            config_notes = self._check_resumed_config()
            checkpoint, notes = self._resume_checkpoint()
            notes += self._check_resumed_data(checkpoint, fingerprint)
            for note in (*config_notes, *notes):
                self._emit("message", text=note)
            config_changed = bool(config_notes)

        torch.manual_seed(train.seed)
        task = build_task(cfg, resume_from=self.paths.root if self.resume else None)
        model_config = dataclasses.replace(cfg.model, **task.vocab_sizes)
        self.config = cfg = dataclasses.replace(cfg, model=model_config)
        model = build_model(model_config).to(device)
        optimizer = build_optimizer(model, train)
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

        if checkpoint is not None:
            restore_model(model, checkpoint)
            restore_optimizer(optimizer, checkpoint)
            restore_rng_state(checkpoint.rng_state)
            known = {f.name for f in dataclasses.fields(TrainState)}
            self.state = TrainState(
                **{k: v for k, v in checkpoint.trainer_state.items() if k in known}
            )
            if self.state.stop_reason.startswith("interrupted"):
                self.state.stop_reason = ""  # stopped by a signal to be continued: go on
            if dist.is_main:
                _truncate_metrics(self.paths.metrics, self.state.step)
                if config_changed:  # the run's config is the one it now trains with
                    self.paths.write_config(cfg)
        elif dist.is_main:
            self.paths.root.mkdir(parents=True, exist_ok=True)
            self.paths.write_config(cfg)
            task.save_tokenizers(self.paths.root)
        self.state.data_fingerprint = fingerprint

        wrapped: nn.Module = model
        if dist.enabled:
            wrapped = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        if train.compile:
            wrapped = compile_model(wrapped)
        writer = _tensorboard_writer(self.paths.root) if dist.is_main else None
        num_params = sum(p.numel() for p in model.parameters())
        self._emit(
            "start",
            params=num_params,
            device=str(device),
            precision=precision,
            world_size=dist.world_size,
            vocab_size=max(task.vocab_sizes.values()),
            data=getattr(task, "stats", None),
        )

        previous_handlers = self._install_signal_handlers()
        model.train()
        state = self.state
        window_tokens, window_start = 0, time.perf_counter()
        session_start, seconds_before = time.perf_counter(), state.seconds
        try:
            while state.step < train.steps and not state.stop_reason:
                lr = learning_rate(state.step, train, elapsed_seconds=state.seconds)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                micro = task.micro_batches(
                    state.batch_index,
                    batch_size=train.batch_size,
                    accumulate=train.accumulate,
                    rank=dist.rank,
                    world_size=dist.world_size,
                )
                state.batch_index += 1
                loss_value, step_tokens, grad_norm = update_step(
                    wrapped,
                    functools.partial(task.loss, label_smoothing=train.label_smoothing),
                    micro,
                    optimizer,
                    scaler=scaler,
                    device=device,
                    precision=precision,
                    dist=dist,
                    grad_clip=train.grad_clip,
                )
                finite = math.isfinite(loss_value) and math.isfinite(grad_norm)
                scaler_overflow = scaler.is_enabled() and math.isfinite(loss_value)
                if not finite and scaler_overflow:
                    optimizer.zero_grad(set_to_none=True)  # fp16 loss-scale calibration
                elif not finite:
                    self._skip(optimizer, loss_value, grad_norm)
                else:
                    state.nonfinite_in_a_row = 0
                    state.step += 1
                    state.tokens_seen += step_tokens
                    window_tokens += step_tokens
                state.seconds = seconds_before + time.perf_counter() - session_start

                if finite and state.step % train.log_every == 0:
                    now = time.perf_counter()
                    record = {
                        "kind": "train",
                        "step": state.step,
                        "loss": loss_value,
                        "lr": lr,
                        "grad_norm": grad_norm,
                        "tokens_per_s": window_tokens / max(now - window_start, 1e-9),
                        "seconds": state.seconds,
                    }
                    window_tokens, window_start = 0, now
                    self._record(record, writer, dist.is_main)
                    self._emit("log", **record)

                out_of_time = bool(train.max_minutes) and state.seconds >= 60 * train.max_minutes
                at_end = state.step >= train.steps or out_of_time
                if finite and ((train.eval_every and state.step % train.eval_every == 0) or at_end):
                    self._evaluate(model, task, device, writer, dist.is_main, optimizer)
                elif finite and train.save_every and state.step % train.save_every == 0:
                    self._save(model, optimizer, dist.is_main)
                if out_of_time and finite and not state.stop_reason:
                    state.stop_reason = f"time budget of {train.max_minutes:g} minutes reached"
                if self._signal is not None:
                    name = signal.Signals(self._signal).name
                    state.stop_reason = f"interrupted by {name}"
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            if writer is not None:
                writer.close()

        if state.stop_reason.startswith("interrupted"):
            self._save(model, optimizer, dist.is_main)
        elif not state.stop_reason:
            state.stop_reason = "finished"
        self._emit("end", stop_reason=state.stop_reason)
        return state

    def _skip(self, optimizer: torch.optim.Optimizer, loss: float, grad_norm: float) -> None:
        """A non-finite loss or gradient: drop the update, count it, maybe stop."""
        state, train = self.state, self.config.train
        optimizer.zero_grad(set_to_none=True)
        state.nonfinite_in_a_row += 1
        state.skipped_updates += 1
        record = {
            "kind": "skip",
            "step": state.step,
            "batch_index": state.batch_index,
            "loss": _json_float(loss),
            "grad_norm": _json_float(grad_norm),
        }
        if self.paths.root.exists():
            _append_metrics(self.paths.metrics, record)
        self._emit("skip", **record)
        log.warning("non-finite loss or gradient at step %d: update skipped", state.step)
        if state.nonfinite_in_a_row >= train.max_nonfinite:
            raise TrainingError(
                f"the loss or gradient was non-finite {state.nonfinite_in_a_row} updates in "
                f"a row (at step {state.step}); lower train.lr, set train.grad_clip, or "
                f"check the data. The last good checkpoint is in {self.paths.checkpoints}"
            )

    def _evaluate(
        self,
        model: nn.Module,
        task: Task,
        device: torch.device,
        writer: Any,
        is_main: bool,
        optimizer: torch.optim.Optimizer,
    ) -> None:
        state, train = self.state, self.config.train
        metrics = task.evaluate(
            model, device=device, max_batches=train.eval_batches, batch_size=train.batch_size
        )
        improved = state.best_loss is None or metrics["loss"] < state.best_loss
        if improved:
            state.best_loss, state.best_step = metrics["loss"], state.step
            state.evals_without_improvement = 0
        else:
            state.evals_without_improvement += 1
        record = {"kind": "eval", "step": state.step, "seconds": state.seconds}
        record.update({f"val_{k}": v for k, v in metrics.items()})
        self._record(record, writer, is_main)
        self._emit("eval", best=improved, **record)
        if train.patience and state.evals_without_improvement >= train.patience:
            state.stop_reason = (
                f"early stop: no improvement in {train.patience} evaluations "
                f"(best val loss {state.best_loss:.4f} at step {state.best_step})"
            )
        self._save(model, optimizer, is_main, is_best=improved)

    def _save(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, is_main: bool, *, is_best=False
    ) -> None:
        if not is_main:
            return
        try:
            path = save_checkpoint(
                self.paths.root,
                step=self.state.step,
                model=model,
                optimizer=optimizer,
                trainer_state=dataclasses.asdict(self.state),
                rng_state=capture_rng_state(),
                keep_last=self.config.train.keep_last,
                is_best=is_best,
            )
        except CheckpointError as exc:
            self._emit("message", text=f"checkpoint not written: {exc}")
            raise
        self._emit("checkpoint", path=str(path), best=is_best)

    def _record(self, record: dict[str, Any], writer: Any, is_main: bool) -> None:
        if not is_main:
            return
        _append_metrics(self.paths.metrics, record)
        if writer is not None:
            for key, value in record.items():
                if key not in ("kind", "step") and isinstance(value, int | float):
                    writer.add_scalar(f"{record['kind']}/{key}", value, record["step"])


# ---------------------------------------------------------------------- helpers


def update_step(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, Any]],
    micro_batches: list[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    precision: str,
    dist: DistributedContext,
    grad_clip: float,
) -> tuple[float, int, float]:
    """One optimizer update over ``micro_batches``; returns (mean token loss, tokens,
    gradient norm before clipping).

    ``loss_fn(model, batch)`` gives the *summed* loss of a micro-batch; the sum over all
    micro-batches and processes is divided by their total token count, so accumulation
    and data parallelism reproduce one big batch. The benchmarks time this very function.
    A non-finite loss or gradient skips the optimizer step (the caller counts it).
    """
    micro_batches = [{k: v.to(device) for k, v in b.items()} for b in micro_batches]
    if fast.enabled() and device.type == "cpu":
        micro_batches = [part for b in micro_batches for part in cache_sized_passes(b)]
    # Token count of the whole update, over micro-batches and processes.
    tokens = sum(int((b["labels"] != -100).sum()) for b in micro_batches)
    total = torch.tensor(float(tokens), device=device)
    if dist.enabled:
        torch.distributed.all_reduce(total)
    # DDP averages gradients over processes; scale so the result is a per-token mean.
    scale = dist.world_size / max(total.item(), 1.0)
    loss_sum = 0.0
    optimizer.zero_grad(set_to_none=True)
    for i, batch in enumerate(micro_batches):
        last = i == len(micro_batches) - 1
        sync = model.no_sync() if dist.enabled and not last else contextlib.nullcontext()
        with sync:
            with autocast(device, precision):
                summed, _ = loss_fn(model, batch)
            scaler.scale(summed * scale).backward()
        loss_sum += summed.item()
    loss_tensor = torch.tensor(loss_sum, device=device)
    if dist.enabled:
        torch.distributed.all_reduce(loss_tensor)
    scaler.unscale_(optimizer)
    max_norm = grad_clip if grad_clip > 0 else float("inf")
    grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    mean_loss = loss_tensor.item() / max(total.item(), 1.0)
    if math.isfinite(mean_loss) and (math.isfinite(grad_norm) or scaler.is_enabled()):
        # With fp16 the scaler skips an overflowing step itself and lowers its scale.
        scaler.step(optimizer)
        scaler.update()
    return mean_loss, int(total.item()), grad_norm


def compile_model(model: nn.Module) -> nn.Module:
    """``torch.compile(model)``, or ``model`` itself with a warning when this PyTorch
    or platform cannot compile it (the first forward pass is where compiling happens,
    so errors that surface there are the backend's; they fall back the same way via
    ``torch._dynamo.config.suppress_errors``)."""
    try:
        import torch._dynamo

        torch._dynamo.config.suppress_errors = True  # fall back to eager, never fail
        return torch.compile(model)
    except Exception as error:  # any backend problem: train uncompiled
        log.warning("torch.compile unavailable (%s); training without it", error)
        return model


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _append_metrics(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines from after the checkpoint we resume from (a crash lost them)."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= step
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    tmp.replace(path)


def _tensorboard_writer(root: Path) -> Any:
    """A TensorBoard writer when the ``tensorboard`` package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(root / "tensorboard"))
