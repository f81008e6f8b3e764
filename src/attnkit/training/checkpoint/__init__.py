"""Checkpoints: save and resume a training run atomically, and never unpickle anything.

Layout inside a run directory::

    RUN_DIR/checkpoints/
      latest.json              pointer to the newest complete checkpoint: {"step": 500, "dir": ...}
      best.json                pointer to the best checkpoint (when one was saved with is_best)
      step-00000500/
        model.safetensors      weights; a tied parameter is stored once and its aliases restored
        optimizer.safetensors  optimizer state tensors, flat keys such as ``state.3.exp_avg``
        optimizer.json         the rest of the optimizer state dict (param_groups, scalars)
        rng.safetensors        random-number-generator states
        state.json             format version, step, trainer state, size + sha256 of each file

Crash safety. A checkpoint is written into ``checkpoints/.tmp-step-00000500-<random>/``,
every file is fsync'ed, the directory is renamed to its final name and ``checkpoints/`` is
fsync'ed; only then is ``latest.json`` (and ``best.json``) replaced atomically (temp file,
fsync, ``os.replace``, fsync of the directory). A process killed at any moment therefore
leaves the previous pointer and the checkpoint it names intact; the next save removes the
leftover ``.tmp-*`` entries. One process writes to a run directory at a time (the trainer
holds ``RUN_DIR/train.lock``).

Damage. A checkpoint damaged after it was written (a disk error, a copy cut short) is refused
with one line naming the file; the others stay usable: ``load_checkpoint(run, step=N)`` picks
one by step, :func:`newest_intact_checkpoint` finds the newest that reads back whole, and a
lost ``latest.json`` falls back to the newest ``step-*`` directory. ``weights_only=True``
reads only what using the model needs, so a damaged optimizer file does not block it.

Safety. Tensors are read with safetensors, everything else with :mod:`json`; a file that is a
pickle or a ``torch.save`` archive is refused without being read further.

The package, read bottom up:

- :mod:`.errors`: :class:`CheckpointError`, the one error raised.
- :mod:`.atomic`: atomic writing of files and directories; nothing checkpoint-specific.
- :mod:`.format`: the files of one checkpoint, packed to bytes and read back with checks.
- :mod:`.restore`: applying a checkpoint to a model, an optimizer and the random generators.
- :mod:`.store`: checkpoints in a run directory: save, load, pointers, pruning.

Example:
    >>> import tempfile
    >>> import torch
    >>> model = torch.nn.Linear(4, 2)
    >>> with tempfile.TemporaryDirectory() as run:
    ...     path = save_checkpoint(run, step=7, model=model, optimizer=None, trainer_state={})
    ...     checkpoint = load_checkpoint(run)
    ...     restore_model(torch.nn.Linear(4, 2), checkpoint)
    ...     path.name, checkpoint.step
    ('step-00000007', 7)
"""

from attnkit.training.checkpoint.atomic import write_bytes_atomic, write_json_atomic
from attnkit.training.checkpoint.errors import CheckpointError
from attnkit.training.checkpoint.format import (
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILE,
    OPTIMIZER_FILE,
    OPTIMIZER_JSON,
    RNG_FILE,
    STATE_FILE,
    Checkpoint,
)
from attnkit.training.checkpoint.restore import (
    capture_rng_state,
    restore_model,
    restore_optimizer,
    restore_rng_state,
)
from attnkit.training.checkpoint.store import (
    BEST,
    CHECKPOINTS_DIR,
    LATEST,
    checkpoint_steps,
    latest_checkpoint,
    load_checkpoint,
    newest_intact_checkpoint,
    save_checkpoint,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "checkpoint_steps",
    "newest_intact_checkpoint",
    "restore_model",
    "restore_optimizer",
    "capture_rng_state",
    "restore_rng_state",
    "write_json_atomic",
    "write_bytes_atomic",
    # the names on disk
    "FORMAT",
    "FORMAT_VERSION",
    "CHECKPOINTS_DIR",
    "LATEST",
    "BEST",
    "MODEL_FILE",
    "OPTIMIZER_FILE",
    "OPTIMIZER_JSON",
    "RNG_FILE",
    "STATE_FILE",
]
