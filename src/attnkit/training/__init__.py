"""Training: losses, optimisers and schedules, checkpoints, the trainer."""

from attnkit.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    restore_model,
    save_checkpoint,
)
from attnkit.training.optim import build_optimizer, learning_rate, parameter_groups
from attnkit.training.rundir import LoadedRun, RunDir, load_run
from attnkit.training.tasks import LanguageModelTask
from attnkit.training.trainer import Event, Trainer, TrainingError, TrainState

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Event",
    "LanguageModelTask",
    "LoadedRun",
    "RunDir",
    "TrainState",
    "Trainer",
    "TrainingError",
    "build_optimizer",
    "learning_rate",
    "load_checkpoint",
    "load_run",
    "parameter_groups",
    "restore_model",
    "save_checkpoint",
]
