"""Training: losses, optimisers and schedules, checkpoints, the trainer."""
